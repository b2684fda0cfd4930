"""PostgreSQL connections go back to the pool without asyncpg's session reset.

The reset (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) was a
second round trip for every statement Tortoise runs outside a transaction. It is safe to
drop only while nothing of ours leaves state on a connection, and while a transaction left
open is still rolled back before the connection is used again: both are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tortoise import connections

from models import User
from models.postgres import PooledConnection
from tests.conftest import signup_verified

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parent.parent
# Statements that leave state on a session: SET (but SET LOCAL, which ends with the
# transaction), LISTEN, cursors WITH HOLD, session advisory locks, temporary tables, PREPARE
# (SQL keywords as we write them: upper case).
SESSION_STATE = re.compile(
    r"\bSET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_]+\s*(=|\bTO\b)|\bLISTEN\b|\bWITH\s+HOLD\b"
    r"|pg_advisory_lock\(|\bTEMP(ORARY)?\s+TABLE\b|\bPREPARE\s+\w+\s+AS\b|set_config\("
)


async def pool():  # type: ignore[no-untyped-def]
    """asyncpg's pool behind Tortoise's connection (made at the first statement)."""
    client = connections.get("default")
    await client.execute_query("SELECT 1")
    return client._pool


async def test_the_pool_uses_connections_that_skip_the_reset(api):
    async with (await pool()).acquire() as conn:
        assert isinstance(conn._con, PooledConnection)
        assert conn._con.get_reset_query() == ""


async def test_a_flow_runs_no_reset_query_on_release(api):
    """Every statement of signup, verify, login and me is ours: no reset round trips."""
    seen: list[str] = []
    holders = (await pool())._holders
    for holder in holders:
        if holder._con is not None:
            holder._con.add_query_logger(lambda record: seen.append(record.query))
    await signup_verified(api)
    assert seen, "the flow ran no statement on the logged connections"
    assert not [q for q in seen if "pg_advisory_unlock_all" in q or "RESET ALL" in q]


async def test_an_open_transaction_is_rolled_back_before_the_connection_is_reused(api):
    phone = "+14155550177"
    async with (await pool()).acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute(
            "INSERT INTO users (phone, password_hash, is_verified, session_version, "
            "two_factor_enabled, created_at, updated_at) "
            "VALUES ($1, 'x', false, 0, false, now(), now())",
            phone,
        )
    # Released mid-transaction (as a crash between two writes would): nothing was kept.
    assert not await User.filter(phone=phone).exists()
    async with (await pool()).acquire() as conn:
        assert not conn.is_in_transaction()


async def test_no_code_of_ours_leaves_state_on_a_connection():
    sources = [
        path
        for folder in ("resolvers", "notifier", "models", "schema")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "postgres.py"  # the module that names them, in its docstring
    ] + [ROOT / "main.py"]
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sources
        for match in SESSION_STATE.finditer(path.read_text())
    ]
    assert offenders == []


def test_the_pattern_catches_session_state():
    for statement in (
        "SET statement_timeout = 0",
        "SET search_path TO x",
        "LISTEN outbox",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "SELECT pg_advisory_lock(1)",
        "CREATE TEMP TABLE t (x int)",
    ):
        assert SESSION_STATE.search(statement), statement
    assert not SESSION_STATE.search("SET LOCAL enable_seqscan = off")
    assert not SESSION_STATE.search('UPDATE "users" SET "is_verified"=$1')
