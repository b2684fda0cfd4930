"""A one-time code: one row per purpose and subject, replaced by each new code.

The row outlives its codes so that the wrong-guess count survives a resend and the resend
cooldown holds; rows exist for unknown phones too, so that no answer depends on whether an
account exists.
"""

from tortoise import fields
from tortoise.models import Model


class VerificationCode(Model):
    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharField(max_length=16)
    # The phone for phone-keyed flows, "user:<id>" for identity changes.
    subject = fields.CharField(max_length=40)
    phone = fields.CharField(max_length=16)
    user_id = fields.BigIntField(null=True)
    code_hash = fields.CharField(max_length=64)
    # For two-factor login: the keyed hash of the challenge handed to the client.
    challenge_hash = fields.CharField(max_length=64, null=True, unique=True)
    # For signup: the password hash of the signup that issued this code.
    payload = fields.CharField(max_length=255, null=True)
    attempts = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    send_count = fields.IntField(default=0)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "verification_codes"
        unique_together = (("purpose", "subject"),)
        indexes = (("user_id",),)  # an account's codes, ended with the account
