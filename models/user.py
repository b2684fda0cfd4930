"""An account: a phone (E.164), an optional username, a password hash."""

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.BigIntField(primary_key=True)
    phone = fields.CharField(max_length=16, unique=True)
    username = fields.CharField(max_length=64, null=True)
    # NFKC + casefold of username: what uniqueness is decided on.
    username_key = fields.CharField(max_length=128, null=True, unique=True)
    password_hash = fields.CharField(max_length=255)
    # The language of its messages, BCP 47 (issue 16).
    locale = fields.CharField(max_length=35, default="en", null=True)  # null: "en"
    is_verified = fields.BooleanField(default=False)
    two_factor_enabled = fields.BooleanField(default=False)
    # Bumped whenever every earlier access token must stop working.
    session_version = fields.IntField(default=0)
    pending_phone = fields.CharField(max_length=16, null=True)
    pending_username = fields.CharField(max_length=64, null=True)
    pending_username_key = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"
        indexes = (("is_verified", "created_at"),)  # the purge of stale signups
