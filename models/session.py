"""A login session (a refresh-token family) and the single-use refresh tokens it rotates."""

import uuid

from tortoise import fields
from tortoise.models import Model

from models.user import User


class AuthSession(Model):
    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phonegate.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # issue 13: what the session list shows. Set at login and at each refresh; null only
    # for sessions started before these columns existed (the list shows created_at then).
    last_used_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=200, null=True)
    ip_address = fields.CharField(max_length=45, null=True)  # an IPv6 address in text

    class Meta:
        table = "auth_sessions"
        indexes = (("user_id",),)  # ending a user's sessions


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "phonegate.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    session_id: uuid.UUID
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_tokens"
        indexes = (("session_id",),)  # a session's tokens (and its cascade delete)
