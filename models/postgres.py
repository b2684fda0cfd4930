"""asyncpg connections for the pool, without the per-release session reset.

asyncpg's pool resets every connection it takes back: one more round trip per checkout
(``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), and Tortoise
checks a connection out for every statement outside a transaction, so PostgreSQL ran
that reset as often as our own statements. phonegate keeps no session state on a
connection (no SET, LISTEN, cursors or advisory locks; tests/test_postgres_pool.py
checks it), so there is nothing to reset. A transaction still open at release is rolled
back all the same: asyncpg does that before the reset query, whatever the query is.
"""

from __future__ import annotations

import asyncpg


class PooledConnection(asyncpg.Connection):
    def get_reset_query(self) -> str:
        return ""
