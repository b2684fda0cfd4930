"""Second factors beyond SMS: an authenticator app's TOTP secret and recovery codes.

The TOTP secret is stored only encrypted (AES-GCM under a key derived from JWT_SECRET);
recovery codes only as keyed hashes. ``last_step`` is the last RFC 6238 time step a code
was accepted for: a code is accepted only for a later step, in one guarded UPDATE.
"""

from tortoise import fields
from tortoise.models import Model

from models.user import User


class TotpCredential(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "phonegate.User", related_name="totp", on_delete=fields.CASCADE
    )
    user_id: int
    # The secret in use (TOTP is on exactly when this is set), and one awaiting confirmTotp.
    secret_sealed = fields.CharField(max_length=255, null=True)
    pending_sealed = fields.CharField(max_length=255, null=True)
    last_step = fields.BigIntField(default=0)
    enabled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "totp_credentials"


class RecoveryCode(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phonegate.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    user_id: int
    code_hash = fields.CharField(max_length=64, unique=True)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "recovery_codes"
        indexes = (("user_id",),)  # an account's codes (count left, regenerate)
