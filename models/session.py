"""A login session (a refresh-token family) and the single-use refresh tokens it rotates."""

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

    class Meta:
        table = "auth_sessions"
        indexes = (("user_id",),)  # ending a user's sessions


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "phonegate.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_tokens"
        indexes = (("session_id",),)  # a session's tokens (and its cascade delete)
