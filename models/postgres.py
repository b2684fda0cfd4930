"""The PostgreSQL client: asyncpg connections without the per-release reset, and bounded.

asyncpg's pool resets every connection it takes back: one more round trip per checkout
(``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), and Tortoise
checks a connection out for every statement outside a transaction, so PostgreSQL ran
that reset as often as our own statements. phonegate keeps no session state on a
connection (no SET, LISTEN, cursors or advisory locks; tests/test_postgres_pool.py
checks it), so there is nothing to reset. A transaction still open at release is rolled
back all the same: asyncpg does that before the reset query, whatever the query is.

Every wait is bounded by one figure (DATABASE_TIMEOUT_SECONDS): opening a connection
(asyncpg's ``timeout``), each statement (``command_timeout``) and waiting for a free
connection of the pool (``BoundedPool``), the last two shortened to what is left of their
request's deadline (``models.faults.answering_within``, set by the GraphQL view). Past the
bound, or when the server refuses or drops the connection, the caller gets
``DependencyUnavailable("database")``. A connection
whose statement ran out of time is closed at once: otherwise the rollback and the release
that follow would each wait for asyncpg's cancel request first, so a frozen server cost
three bounds instead of one.

Tortoise finds this module as the connection's ``engine`` (``client_class`` below).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionContext, TransactionContextPooled

from models.faults import DependencyUnavailable, wait_within

DATABASE = "database"
# What "the server did not answer" looks like from asyncpg: a bound passed, a socket that
# failed or was refused, a connection the server closed (restart, admin shutdown), a
# server that refuses connections while it starts or stops, and a pooled connection left
# in a broken protocol state by such a close (InternalClientError "cannot switch to
# state ...", seen when PostgreSQL shut down under idle pooled connections).
OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.InternalClientError,
    TimeoutError,
    OSError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


@contextmanager
def _outage_is_unavailable(connection: asyncpg.Connection | None = None) -> Iterator[None]:
    try:
        yield
    except DependencyUnavailable:
        raise
    except asyncpg.InterfaceError as e:
        if connection is None or not connection.is_closed():
            raise  # a misuse, not an outage
        # the rollback or a later call on a connection closed by an outage
        raise DependencyUnavailable(DATABASE, e) from e
    except OUTAGES as e:
        if connection is not None and not connection.is_closed():
            connection.terminate()  # its state is unknown: never handed out again
        raise DependencyUnavailable(DATABASE, e) from e


class PooledConnection(asyncpg.Connection):
    def get_reset_query(self) -> str:
        return ""

    # The four calls Tortoise makes (transactions go through execute: BEGIN, COMMIT ...).
    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _outage_is_unavailable(self):
            return await super().execute(query, *args, **self._bounded(kwargs))

    async def executemany(self, command: str, args: Any, **kwargs: Any) -> Any:
        with _outage_is_unavailable(self):
            return await super().executemany(command, args, **self._bounded(kwargs))

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _outage_is_unavailable(self):
            return await super().fetch(query, *args, **self._bounded(kwargs))

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        with _outage_is_unavailable(self):
            return await super().fetchrow(query, *args, **self._bounded(kwargs))

    def _bounded(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The statement's bound, shortened to what is left of its request's deadline."""
        bound = kwargs.get("timeout") or self._config.command_timeout
        return {**kwargs, "timeout": wait_within(bound)}


class BoundedPool(asyncpg.Pool):
    """Waits for a free connection (or a new one) at most ``acquire_timeout`` seconds; the
    release of a connection is bounded by the same figure (asyncpg applies the acquire's
    timeout to it)."""

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's)
        with _outage_is_unavailable():
            bound = self.acquire_timeout if timeout is None else timeout
            return await super()._acquire(wait_within(bound))


class BoundedTransaction(TransactionWrapper):
    """A transaction whose connection an outage closed ends without a rollback: the server
    rolls back what a lost connection left open, and asyncpg's rollback would replace the
    outage with its own error ("the underlying connection is closed")."""

    async def rollback(self) -> None:
        if self._lost() and not self._finalized:
            self._finalized = True
            return
        await super().rollback()

    def _lost(self) -> bool:
        try:
            return bool(self._connection.is_closed())
        except asyncpg.InterfaceError:  # closed, and already handed back to the pool
            return True


class BoundedClient(AsyncpgDBClient):
    """Tortoise's asyncpg client on a BoundedPool; its options (``command_timeout``,
    ``timeout``, ``acquire_timeout``) come from the connection's credentials."""

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        kwargs.setdefault("max_queries", 50000)
        kwargs.setdefault("max_inactive_connection_lifetime", 300.0)
        kwargs.setdefault("record_class", asyncpg.Record)
        with _outage_is_unavailable():
            return await BoundedPool(None, **kwargs)

    async def create_connection(self, with_db: bool) -> None:
        with _outage_is_unavailable():
            await super().create_connection(with_db)

    def _in_transaction(self) -> TransactionContext:
        return TransactionContextPooled(BoundedTransaction(self), self._pool_init_lock)


client_class = BoundedClient
__all__ = ["BoundedClient", "BoundedPool", "PooledConnection", "client_class"]
