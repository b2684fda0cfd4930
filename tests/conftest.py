"""Fixtures: the suite runs on SQLite and again on PostgreSQL, each on a database of its own
made and migrated for the run.

PHONEGATE_TEST_DATABASES (default "sqlite,postgres") picks the databases. PostgreSQL and
Redis are optional on a developer's machine (their tests skip when the service does not
answer) and required in CI (CI=true: a missing service fails the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench import servers
from core import settings as config
from core.settings import Settings
from server.app import create_app, make_sender, migrate
from tests import documents as d
from tests.support import STRONG_PASSWORD, Api, RecordingSender, new_phone
from tests.twilio_double import TwilioDouble, twilio_settings

POSTGRES_ADMIN = os.environ.get(
    "PHONEGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PHONEGATE_TEST_REDIS", "redis://127.0.0.1:6379/15")
DATABASES = [
    d.strip()
    for d in os.environ.get("PHONEGATE_TEST_DATABASES", "sqlite,postgres").split(",")
    if d.strip()
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-" + "x" * 40
TEST_SIGNING_KEY = servers.signing_key_pem()  # ES256, one per run

# Cheap argon2 for the bulk of the suite; tests of hashing parameters set their own.
FAST = {"ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME_COST": "1"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``postgres_only`` (concurrency between writers, timing on the
    production database) runs on the PostgreSQL half only: its SQLite variant is deselected,
    not skipped, so a skip in the report always means a missing service."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def service_missing(name: str, error: Exception) -> None:
    if IN_CI:
        pytest.fail(f"{name} is required in CI and did not answer: {error!r}")
    pytest.skip(f"{name} not reachable ({error!r}); optional outside CI (README)")


async def _postgres_database() -> tuple[str, Callable[[], Any]]:
    name = f"phonegate_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as e:
        service_missing("PostgreSQL", e)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return f"{base}/{name}", drop


@pytest.fixture(scope="session", params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, migrated database for the whole run (per kind)."""
    if request.param == "sqlite":
        folder = tempfile.mkdtemp(prefix="phonegate-test-")
        url = f"sqlite://{Path(folder) / 'test.sqlite3'}"
        drop = None
    else:
        url, drop = await _postgres_database()
    # Tortoise caches compiled INSERTs per connection name; both kinds use "default", so a
    # switch of database kind within one run must start from an empty cache.
    EXECUTOR_CACHE.clear()
    await migrate(config.load(environ={"DATABASE_URL": url, "JWT_SECRET": TEST_SECRET}))
    yield url
    if drop is not None:
        await drop()


@pytest.fixture
def db_kind(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        environ = {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_SECRET,
            "JWT_PRIVATE_KEY": TEST_SIGNING_KEY,  # as production needs; "" to generate one
            **FAST,
            **env,
        }
        return config.load(environ=environ)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def random_client() -> tuple[str, int]:
    """A loopback address of its own per app, so limits kept in a shared Redis by parallel
    runs never mix (and, not being a trusted proxy, its X-Forwarded-For is ignored)."""
    return (
        f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(256)}",
        40000,
    )


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings, *, sender: Any = None, client: tuple[str, int] | None = None
) -> AsyncIterator[Api]:
    """The ASGI app with its lifespan (database, outbox worker) and an HTTP client."""
    client = client or random_client()
    sms = sender if sender is not None else RecordingSender()
    app = create_app(settings, sender=sms)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http=http, sms=sms, app=app)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_app(settings) as api:
        yield api


@pytest.fixture
def start_app() -> Callable[..., contextlib.AbstractAsyncContextManager[Api]]:
    """For tests that need their own settings or sender: ``async with start_app(s) as api``."""
    return running_app


async def signup_verified(
    api: Api,
    phone: str | None = None,
    *,
    username: str | None = None,
    password: str = STRONG_PASSWORD,
) -> dict[str, Any]:
    """Sign up and verify; the Session (as returned by verifyPhone)."""
    phone = phone or new_phone()
    sent = await api.run(
        d.SIGNUP, {"input": {"phone": phone, "password": password, "username": username}}
    )
    assert sent["__typename"] == "VerificationSent", sent
    code = await api.sms.code(phone, "verify_signup")
    verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
    session = await api.run(d.VERIFY_PHONE, {"input": verify})
    assert session["__typename"] == "Session", session
    return session


@pytest.fixture
def account(api: Api) -> Callable[..., Any]:
    async def make(**kw: Any) -> dict[str, Any]:
        return await signup_verified(api, **kw)

    return make


async def reachable_redis() -> str:
    """The tests' Redis URL once it answers (a failure, or a skip outside CI, if not)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except Exception as e:  # any failure to reach it
        service_missing("Redis", e)
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def redis_url() -> str:
    return await reachable_redis()


@contextlib.contextmanager
def server_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for servers a test starts itself, dropped afterwards."""
    from bench import servers

    try:
        context = servers.postgres_database(prefix)
        url = context.__enter__()
    except (OSError, asyncpg.PostgresError) as e:
        service_missing("PostgreSQL", e)
    try:
        yield url
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def twilio() -> Iterator[TwilioDouble]:
    """A local Twilio double over real HTTP (tests/twilio_double.py)."""
    with TwilioDouble() as double:
        yield double


@pytest.fixture
def twilio_app(
    make_settings: Callable[..., Settings], twilio: TwilioDouble
) -> Callable[..., contextlib.AbstractAsyncContextManager[Api]]:
    """``async with twilio_app(**env) as api``: the app sending through the real Twilio SDK
    to the double, with fast retries."""

    @contextlib.asynccontextmanager
    async def run(**env: str) -> AsyncIterator[Api]:
        settings = make_settings(**twilio_settings(twilio, **env))
        async with running_app(settings, sender=make_sender(settings)) as api:
            yield api

    return run
