"""A one-time code: one row per purpose and subject, replaced by each new code (a resend).

The row outlives its codes so that the wrong-guess count survives a resend and the resend
cooldown holds; rows exist for unknown phones too, so that no answer depends on whether an
account exists.
"""

from tortoise import fields
from tortoise.models import Model


class VerificationCode(Model):
    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharField(max_length=16)
    # What the code belongs to: "signup:<pending signup id>", "reset:<random>" and
    # "decoy:<random>" for challenge-bound codes, the phone for login codes, "user:<id>" for
    # identity changes, "phone:<phone>" for the row holding a phone's resend wait for new
    # signup and reset challenges (no code or challenge reaches it).
    subject = fields.CharField(max_length=40)
    phone = fields.CharField(max_length=16)
    user_id = fields.BigIntField(null=True)
    code_hash = fields.CharField(max_length=64)
    # For challenge-bound codes (signup, reset, login): the keyed hash of the challenge
    # handed to the client; the code is looked up by it.
    challenge_hash = fields.CharField(max_length=64, null=True, unique=True)
    attempts = fields.IntField(default=0)
    expires_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    send_count = fields.IntField(default=0)
    # The channel the latest code was asked for (issue 16), decoys too: deliveryStatus
    # answers it for a challenge whose messages it does not show. Null: "sms".
    channel = fields.CharField(max_length=16, null=True)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "verification_codes"
        unique_together = (("purpose", "subject"),)
        indexes = (("user_id",),)  # an account's codes, ended with the account
