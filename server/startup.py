"""What main.py checks before it serves, so that a start fails in one line, not in a
traceback from a worker: the SMS templates, the token signing keys, the ports, the database.

Each check raises ``StartupError`` with one line naming what is wrong; warnings are logged
here once per start (the workers do not repeat them).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.migrations.executor import MigrationExecutor

from core.settings import MEMORY_LIMITS, Settings, SettingsError, memory_limits_per_worker
from models import tortoise_config
from models.faults import DependencyUnavailable
from notifier.templates import TemplateError, Templates
from server import app
from server.jwks import token_keys

log = logging.getLogger("phonegate")
DATABASE_TIMEOUT_SECONDS = 10.0


class StartupError(RuntimeError):
    """The server cannot start, in one line."""


def check_templates(settings: Settings) -> None:
    """The SMS templates load and render (the server and disable-totp send with them)."""
    try:
        Templates(settings.sms_templates_file, settings.webotp_domain)
    except TemplateError as e:
        raise StartupError(str(e)) from None


def check_before_serving(settings: Settings) -> None:
    check_templates(settings)
    try:
        token_keys(settings)  # read, or made outside production, before any worker starts
    except SettingsError as e:
        raise StartupError(str(e)) from None
    check_port(settings.host, settings.port, "PORT")
    if settings.metrics_port:
        check_port(settings.host, settings.metrics_port, "METRICS_PORT")
    if memory_limits_per_worker(settings):  # production refuses it (core/settings.py)
        log.warning("%s", MEMORY_LIMITS.replace("with", "and", 1))


def check_port(host: str, port: int, variable: str) -> None:
    """The address is free (the workers bind it again a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise StartupError(
                f"cannot listen on {host}:{port} ({variable}): {e.strerror}"
            ) from None


def database_name(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _database_error(settings: Settings, e: BaseException) -> StartupError:
    if isinstance(e, TimeoutError) or (
        isinstance(e, DependencyUnavailable) and e.cause == "TimeoutError"
    ):  # the bounded database client reports its own timeout as an outage
        reason = f"did not answer in {DATABASE_TIMEOUT_SECONDS:g} s"
    elif _caused_by(e, asyncpg.InvalidCatalogNameError):  # the server answered: no outage
        reason = "does not exist (create it, then run main.py migrate)"
    else:
        text = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
    return StartupError(f"database {database_name(settings.database_url)}: {reason}")


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, kind):
        cause = cause.__cause__
    return cause is not None


async def check_database(settings: Settings, *, migrated: bool = True) -> None:
    """The database exists and answers a query; with ``migrated``, every migration is
    applied (the commands and a production start use the tables, and create none)."""
    parts = urlsplit(settings.database_url)
    folder = Path(parts.netloc + parts.path).parent
    if parts.scheme == "sqlite" and not folder.is_dir():  # SQLite creates only the file
        name = database_name(settings.database_url)
        raise StartupError(f"database {name}: the folder {folder} does not exist")
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            await Tortoise.init(config=tortoise_config(settings.database_url))
            await connections.get("default").execute_query("SELECT 1")
            pending = await _pending_migrations(settings) if migrated else []
    except Exception as e:  # any driver's failure, in one line
        raise _database_error(settings, e) from None
    finally:
        await Tortoise.close_connections()
    if pending:
        raise StartupError(
            f"database {database_name(settings.database_url)}: not migrated "
            f"({', '.join(pending)} not applied): run main.py migrate"
        )


async def _pending_migrations(settings: Settings) -> list[str]:
    """The migrations not yet applied, by name (read only: Tortoise's migration plan)."""
    apps: dict[str, Any] = tortoise_config(settings.database_url)["apps"]  # type: ignore[assignment]
    plan = await MigrationExecutor(connections.get("default"), apps).plan()
    return [step.migration.name for step in plan if not step.backward]


async def migrate(settings: Settings) -> None:
    """Migrate, saying what was applied; a database that fails is one line."""
    await check_database(settings, migrated=False)
    try:
        applied = await app.migrate(settings)
    except Exception as e:
        raise _database_error(settings, e) from None
    name = database_name(settings.database_url)
    if applied:
        log.info("database %s: applied %s", name, ", ".join(applied))
    else:
        log.info("database %s: up to date, no migration to apply", name)
