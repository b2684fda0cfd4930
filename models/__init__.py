"""Tortoise models, one concept per module. Schema changes go through models/migrations/."""

from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

from models.code import VerificationCode
from models.outbox import MessageAttempt, OutboxMessage
from models.second_factor import RecoveryCode, TotpCredential
from models.security_event import SecurityEvent
from models.session import AuthSession, RefreshToken
from models.signup import PendingSignup
from models.user import User

__all__ = [
    "AuthSession",
    "MessageAttempt",
    "OutboxMessage",
    "PendingSignup",
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
    "models.signup",
    "models.second_factor",
    "models.security_event",
]


DEFAULT_TIMEOUT_SECONDS = 2.0  # DATABASE_TIMEOUT_SECONDS' default: within a 3 s answer


def tortoise_config(
    database_url: str, timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, object]:
    """The one Tortoise configuration: used by the app, the migrate command and tests.

    ``timeout_seconds`` bounds connecting, waiting for a pooled connection and each
    statement (PostgreSQL), or waiting for SQLite's write lock; None: no bound on
    statements (migrations), connecting still bounded by the default."""
    return {
        "connections": {"default": _connection(database_url, timeout_seconds)},
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


def _connection(database_url: str, timeout_seconds: float | None) -> str | dict[str, Any]:
    """The URL expanded, with its bounds: for PostgreSQL (asyncpg) our bounded client and
    connection class (models/postgres.py); for SQLite a busy timeout, so that a writer
    waits that long for the lock and then fails instead of hanging."""
    connection = expand_db_url(database_url)
    credentials = connection["credentials"]
    if connection["engine"] == "tortoise.backends.sqlite":
        if timeout_seconds is not None:
            credentials.setdefault("busy_timeout", int(timeout_seconds * 1000))
        return connection
    if connection["engine"] != "tortoise.backends.asyncpg":
        return database_url
    from models.postgres import PooledConnection

    connection["engine"] = "models.postgres"
    credentials["connection_class"] = PooledConnection
    bound = timeout_seconds if timeout_seconds is not None else DEFAULT_TIMEOUT_SECONDS
    credentials.setdefault("timeout", bound)  # opening a connection
    credentials.setdefault("acquire_timeout", bound)  # waiting for a pooled one
    if timeout_seconds is not None:
        credentials.setdefault("command_timeout", timeout_seconds)  # each statement
    return connection


# For Tortoise's own CLI (`uv run tortoise makemigrations`), configured in pyproject.toml.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
