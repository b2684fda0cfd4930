"""What happened to an account's security (logins, password and factor changes ...), with
when and from where; kept SECURITY_EVENT_KEEP (90 days) by the maintenance purge."""

from tortoise import fields
from tortoise.models import Model

from models.user import User


class SecurityEvent(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phonegate.User", related_name="security_events", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharField(max_length=32)
    at = fields.DatetimeField()
    ip_address = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "security_events"
        indexes = (("user_id", "at"), ("at",))  # an account's newest; the purge of old ones
