"""The embedded default under a held write lock: SQLite's busy timeout is the database not
answering in time, so a request that must write answers UNAVAILABLE within the budget (it
answered "Unexpected error." after the timeout), and service resumes once the lock goes."""

from __future__ import annotations

import sqlite3
import time

from tortoise.backends.base.executor import EXECUTOR_CACHE

from core import settings as config
from server.app import migrate
from tests import documents as d
from tests.conftest import FAST, TEST_SECRET, running_app
from tests.support import STRONG_PASSWORD, new_phone

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_a_held_sqlite_write_lock_answers_unavailable_in_time(tmp_path):
    # a database of its own (this is about SQLite alone, not one of the suite's two halves)
    sqlite_path = str(tmp_path / "locked.sqlite3")
    environ = {
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite://{sqlite_path}",
        "JWT_SECRET": TEST_SECRET,
        "DATABASE_TIMEOUT_SECONDS": "1",
        "RESEND_COOLDOWN_SECONDS": "0",
        **FAST,
    }
    settings = config.load(environ=environ)
    EXECUTOR_CACHE.clear()  # compiled statements are cached per connection name, not kind
    await migrate(settings)
    async with running_app(settings) as api:
        phone = new_phone()
        body = {
            "query": d.SIGNUP,
            "variables": {"input": {"phone": phone, "password": STRONG_PASSWORD}},
        }
        # given: another process's writer holds SQLite's write lock
        other = sqlite3.connect(sqlite_path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            # when
            started = time.monotonic()
            answer = await api.http.post(
                "/graphql", json=body, headers={"Accept": GRAPHQL_RESPONSE}
            )
            took = time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
        # then: the typed outage, in time, and a working service once the lock is gone
        errors = answer.json()["errors"]
        assert answer.status_code == 503, answer.text
        assert [e["extensions"]["code"] for e in errors] == ["UNAVAILABLE"]
        assert "database is not answering" in errors[0]["message"]
        assert took < 3.5
        again = await api.run(d.SIGNUP, body["variables"])
        assert again["__typename"] == "VerificationSent"
    EXECUTOR_CACHE.clear()
