"""Tortoise models, one concept per module. Schema changes go through models/migrations/."""

from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

from models.code import VerificationCode
from models.outbox import MessageAttempt, OutboxMessage
from models.second_factor import RecoveryCode, TotpCredential
from models.security_event import SecurityEvent
from models.session import AuthSession, RefreshToken
from models.user import User

__all__ = [
    "AuthSession",
    "MessageAttempt",
    "OutboxMessage",
    "RecoveryCode",
    "RefreshToken",
    "SecurityEvent",
    "TotpCredential",
    "User",
    "VerificationCode",
]

MODULES = [
    "models.user",
    "models.code",
    "models.session",
    "models.outbox",
    "models.second_factor",
    "models.security_event",
]


def tortoise_config(database_url: str) -> dict[str, object]:
    """The one Tortoise configuration: used by the app, the migrate command and tests."""
    return {
        "connections": {"default": _connection(database_url)},
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


def _connection(database_url: str) -> str | dict[str, Any]:
    """The URL, or for PostgreSQL (asyncpg) its expansion with our connection class."""
    connection = expand_db_url(database_url)
    if connection["engine"] != "tortoise.backends.asyncpg":
        return database_url
    from models.postgres import PooledConnection

    connection["credentials"]["connection_class"] = PooledConnection
    return connection


# For Tortoise's own CLI (`uv run tortoise makemigrations`), configured in pyproject.toml.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
