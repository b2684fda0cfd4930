"""Opening a session with the security event that says why (a login, a password change):
the session, its first refresh token and the event are written together or not at all.

On PostgreSQL the three rows are one data-modifying ``WITH`` statement (one round trip,
and atomic by itself: no transaction of its own is needed, and inside a caller's
transaction it is one of its statements). The rows are built by the functions the ORM path
saves (``tokens.new_session``, ``events.event_row``) and written by ``models/rows.py``
from the unsaved instances, so a new column reaches both paths. The token and the event
are written from the session INSERT's ``RETURNING``: no session, no token nor event.

On SQLite the ORM saves them one by one, in a transaction (why SQLite keeps the ORM's
statements: ``rows.chain_connection``).
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import AuthSession, User, rows
from resolvers import events, tokens
from resolvers.deps import Client


async def open_session(
    policy: tokens.TokenPolicy, user: User, kind: str, client: Client | None
) -> tokens.IssuedSession:
    """A new session of the (saved) account, its refresh token, and the event ``kind``."""
    connection = rows.chain_connection(AuthSession)
    if connection is not None:
        return await _chained(connection, policy, user, kind, client)
    async with in_transaction():  # nested in a caller's transaction: a savepoint
        session = await tokens.start_session(policy, user, client)
        await events.record(user.id, kind, client)
    return session


async def _chained(
    connection: BaseDBAsyncClient,
    policy: tokens.TokenPolicy,
    user: User,
    kind: str,
    client: Client | None,
) -> tokens.IssuedSession:
    session, token, refresh = tokens.new_session(policy, user, client)
    event = events.event_row(user.id, kind, client)
    chain = rows.Chain()
    chain.insert("session", session, tail='RETURNING "id"')
    chain.insert("token", token, source="session", taken={"session_id": "id"})
    chain.insert("event", event, source="session", taken={})
    _, written = await connection.execute_query(
        chain.sql('SELECT "id" FROM "session"'), chain.params
    )
    if len(written) != 1:  # an INSERT without a condition writes its row or raises
        raise RuntimeError(f"a session's chain wrote {len(written)} sessions")
    return tokens.issued(policy, user, session, token, refresh)
