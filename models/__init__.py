"""Tortoise models, one concept per module. Schema changes go through models/migrations/."""

from models.code import VerificationCode
from models.outbox import MessageAttempt, OutboxMessage
from models.session import AuthSession, RefreshToken
from models.user import User

__all__ = [
    "AuthSession",
    "MessageAttempt",
    "OutboxMessage",
    "RefreshToken",
    "User",
    "VerificationCode",
]

MODULES = ["models.user", "models.code", "models.session", "models.outbox"]


def tortoise_config(database_url: str) -> dict[str, object]:
    """The one Tortoise configuration: used by the app, the migrate command and tests."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "phonegate": {
                "models": MODULES,
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For Tortoise's own CLI (`uv run tortoise makemigrations`), configured in pyproject.toml.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
