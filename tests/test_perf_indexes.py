"""An index behind every hot lookup (EXPLAIN on PostgreSQL and SQLite), and no N+1 queries.

On PostgreSQL the planner is told to avoid sequential scans (``enable_seqscan = off``), so
the plan shows whether an index *can* serve the query: a table this small would otherwise
be scanned whatever its indexes. SQLite must SEARCH with an index, never SCAN the table.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    AuthSession,
    MessageAttempt,
    OutboxMessage,
    PendingSignup,
    RefreshToken,
    User,
    VerificationCode,
)
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone

AT = datetime(2030, 1, 1, tzinfo=UTC)
PHONE = "+14155550123"
HASH = "ab" * 32


def hot_queries() -> dict[str, QuerySet]:  # type: ignore[type-arg]
    return {
        "user by phone": User.filter(phone=PHONE),
        "user by username": User.filter(username_key="alice"),
        "stale signups": PendingSignup.filter(expires_at__lt=AT),
        "code by purpose and subject": VerificationCode.filter(purpose="signup", subject=PHONE),
        "code by challenge": VerificationCode.filter(purpose="login", challenge_hash=HASH),
        "codes of an account": VerificationCode.filter(user_id=7),
        "refresh token by hash": RefreshToken.filter(token_hash=HASH).select_related(
            "session__user"
        ),
        "tokens of a session": RefreshToken.filter(session_id=uuid.UUID(int=7)),
        "session of an access token": AuthSession.filter(
            id=uuid.UUID(int=7), user_id=7, revoked_at=None
        ).select_related("user"),
        "sessions of a user": AuthSession.filter(user_id=7, revoked_at=None),
        "outbox claim": OutboxMessage.filter(
            Q(state="queued", next_attempt_at__lte=AT) | Q(state="sending", lease_until__lt=AT)
        )
        .order_by("next_attempt_at")
        .limit(20),
        "outbox by provider sid": OutboxMessage.filter(provider_sid="SM" + HASH[:32]),
        "queued messages of a phone": OutboxMessage.filter(
            phone=PHONE, action="verify_signup", state="queued"
        ),
        "attempts of a message": MessageAttempt.filter(message_id=7),
    }


async def plan(kind: str, sql: str) -> str:
    if kind == "postgres":
        async with in_transaction() as conn:
            await conn.execute_script("SET LOCAL enable_seqscan = off")
            rows = await conn.execute_query_dict(f"EXPLAIN {sql}")
        return "\n".join(row["QUERY PLAN"] for row in rows)
    rows = await connections.get("default").execute_query_dict(f"EXPLAIN QUERY PLAN {sql}")
    return "\n".join(row["detail"] for row in rows)


HOT = [
    "user by phone",
    "user by username",
    "stale signups",
    "code by purpose and subject",
    "code by challenge",
    "codes of an account",
    "refresh token by hash",
    "tokens of a session",
    "session of an access token",
    "sessions of a user",
    "outbox claim",
    "outbox by provider sid",
    "queued messages of a phone",
    "attempts of a message",
]


async def test_the_list_of_hot_lookups_is_complete(api):
    assert sorted(HOT) == sorted(hot_queries())


@pytest.mark.parametrize("name", HOT)
async def test_every_hot_lookup_is_served_by_an_index(api, db_kind, name):
    # given
    sql = hot_queries()[name].sql(params_inline=True)
    # when
    explained = await plan(db_kind, sql)
    # then
    if db_kind == "postgres":
        assert "Seq Scan" not in explained, explained
        assert "Index" in explained, explained
    else:
        scans = [line for line in explained.splitlines() if line.startswith("SCAN")]
        assert not scans, explained


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements the app runs meanwhile (Tortoise logs each at DEBUG)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.args and isinstance(record.args, tuple):
                seen.append(str(record.args[0]))

    logger = logging.getLogger("tortoise.db_client")
    handler, level = Collect(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_me_is_one_query(api):
    # given
    session = await signup_verified(api)
    # when
    with statements() as seen:
        me = await api.run(d.ME, token=session["accessToken"])
    # then: the session and its user in one join, whatever the fields asked
    ours = [s for s in seen if "outbox_messages" not in s]  # the outbox worker polls meanwhile
    assert me is not None
    assert len(ours) == 1 and "JOIN" in ours[0].upper(), ours


async def test_refresh_reads_the_token_session_and_user_in_one_query(api):
    # given
    session = await signup_verified(api)
    # when
    with statements() as seen:
        refreshed = await api.run(d.REFRESH, {"token": session["refreshToken"]})
    # then
    ours = [s for s in seen if "outbox_messages" not in s]
    selects = [s for s in ours if s.lstrip().upper().startswith("SELECT")]
    assert refreshed["__typename"] == "Session"
    assert len(selects) == 1, selects


def _writes(seen: list[str], table: str) -> list[str]:
    """INSERTs and UPDATEs of ``table`` (the maintenance task's purges may DELETE meanwhile),
    those inside a statement chain (a data-modifying WITH, models/rows.py) included."""
    writes = []
    for s in seen:
        if s.lstrip().upper().startswith("WITH"):
            writes += [w for w, t in CHAINED_WRITE.findall(s) if t == table]
        elif f'"{table}"' in s and s.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes.append(s.split()[0].upper())
    return writes


CHAINED_WRITE = re.compile(r'AS \((INSERT|UPDATE)(?: INTO)? "(\w+)"')


async def test_a_phones_first_code_is_written_once_and_replaces_no_queued_message(
    make_settings, start_app
):
    # given: no resend wait, so that the same phone can sign up again at once
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone = new_phone()
        variables = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
        # when: the first code of the phone, then a second one
        with statements() as first:
            answer = await api.run(d.SIGNUP, variables)
        with statements() as second:
            again = await api.run(d.SIGNUP, variables)
    # then: the first is one INSERT of its row, and no queued message is looked for to end
    ends_queued = [s for s in first if s.upper().startswith("UPDATE") and '"outbox_messages"' in s]
    assert answer["__typename"] == again["__typename"] == "VerificationSent"
    # (the phone's resend-wait row, then the signup's own code row)
    assert _writes(first, "verification_codes") == ["INSERT", "INSERT"]
    assert [s for s in ends_queued if '"action"' in s] == []
    # the second signup is another signup (issue 11): a row of its own, and the first
    # signup's message is left alone
    assert _writes(second, "verification_codes") == ["UPDATE", "INSERT"]
    assert not any(
        s.upper().startswith("UPDATE") and '"outbox_messages"' in s and '"action"' in s
        for s in second
    )
