"""Round trips per flow, pinned: the SQL statements and Redis calls each request makes on
PostgreSQL with Redis limits, its transaction control (BEGIN, SAVEPOINT, RELEASE, COMMIT,
ROLLBACK: round trips that Tortoise does not log), and the outbox's writes sending one
message. A count is deterministic where a time is not, so a change that adds a round trip
to a flow fails here (and one that removes one updates the pin, with the figure in its
commit message).

Only the request's own work is counted: a context variable marks the test's request (the
ASGI transport runs the app in the test's task), so the outbox worker's polls and sends,
which run in tasks of their own, are told apart from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asyncpg.connection import Connection as PgConnection
from redis.asyncio.connection import AbstractConnection

from models import OutboxMessage
from resolvers import codes
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone

pytestmark = pytest.mark.postgres_only

IN_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar("in_request", default=False)
BY_TEST: contextvars.ContextVar[bool] = contextvars.ContextVar("by_test", default=False)
CONNECTING: contextvars.ContextVar[bool] = contextvars.ContextVar("connecting", default=False)
OUTBOX_TABLES = ('"outbox_messages"', '"message_attempts"')
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


@dataclass
class Trips:
    sql: list[str] = field(default_factory=list)
    redis: int = 0
    worker_sql: list[str] = field(default_factory=list)
    control: list[str] = field(default_factory=list)  # BEGIN, SAVEPOINT, RELEASE, COMMIT, ...

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.sql), self.redis


@contextlib.contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trips]:
    trips = Trips()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not (record.args and isinstance(record.args, tuple)):
                return
            statement = str(record.args[0])
            if BY_TEST.get():
                return  # the test's own look at the outbox
            (trips.sql if IN_REQUEST.get() else trips.worker_sql).append(statement)

    execute = PgConnection.execute

    async def executed(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        # Transaction control is a round trip that Tortoise does not log: asyncpg's
        # Transaction sends it through Connection.execute (Tortoise's savepoints too).
        word = query.lstrip().split(maxsplit=1)[0].rstrip(";").upper() if query.strip() else ""
        if IN_REQUEST.get() and not BY_TEST.get() and word in TRANSACTION_CONTROL:
            trips.control.append(word)
        return await execute(self, query, *args, **kwargs)

    send = AbstractConnection.send_packed_command
    connect = AbstractConnection.on_connect_check_health

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        if IN_REQUEST.get() and not CONNECTING.get():
            trips.redis += 1
        await send(self, command, check_health)

    async def handshake(self: Any, check_health: bool = True) -> None:
        # A new pooled connection's hello (CLIENT SETINFO and the like) is not the flow's
        # work: whether the pool has an idle connection depends on the worker's timing.
        token = CONNECTING.set(True)
        try:
            await connect(self, check_health)
        finally:
            CONNECTING.reset(token)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    monkeypatch.setattr(PgConnection, "execute", executed)
    monkeypatch.setattr(AbstractConnection, "on_connect_check_health", handshake)
    logger = logging.getLogger("tortoise.db_client")
    handler, level = Collect(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield trips
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def request(api: Any, trips: Trips, query: str, variables: dict[str, Any], **kw: Any) -> Any:
    trips.sql.clear()
    trips.control.clear()
    trips.redis = 0
    token = IN_REQUEST.set(True)
    try:
        return await api.run(query, variables, **kw)
    finally:
        IN_REQUEST.reset(token)


async def sent(phone: str, action: str) -> None:
    BY_TEST.set(True)  # in this helper's own task context: its queries are not counted
    for _ in range(500):
        if await OutboxMessage.filter(phone=phone, action=action, state="sent").exists():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {action} sent to {phone}")


# (SQL statements, Redis calls) of each flow's request, on PostgreSQL with Redis limits.
# Issue 14 added: verifyPhone +1 (the signup event), login +2 (is TOTP on? and the login
# event), resetPassword +2 (is TOTP on? and the password_reset event).
PINNED = {
    # Issue 17: the limits of one request in one Redis round trip (one Lua script), and the
    # clears after a success in one DEL: signup 10 -> 1, verifyPhone 3 -> 1, login 12 -> 2
    # (the check before the work, the clear after a right password), requestReset 10 -> 1,
    # resetPassword 6 -> 2 (the guess budget, the clear). verifyPhone's SQL 12 -> 11: no look
    # for an account holding the phone before creating one (its unique key finds it).
    # signup's SQL 9 -> 8: the 9th was the log line of the pool's creation (the first
    # request opened it), not a statement; a request before counting now opens it.
    # signup's SQL 8 -> 6 (issue 17, perf-signup): the phone's wait row read once and handed
    # to its claim (no second SELECT), and the signup's own code inserted without a look
    # first (its subject, the new pending signup's id, can have no row: ``fresh``).
    # signup's SQL 6 -> 4 (issue 17, perf-signup-chain): the pending signup, its code and
    # its message in one WITH statement (resolvers/signup.py, ``_open_chained``), for a new
    # phone and a registered one alike: the wait's SELECT and claim, the owner's SELECT, it.
    "signup": (4, 1),
    # verifyPhone: the code's row by its challenge, the per-phone lock that lines up
    # parallel verifications, the guarded use of the code, the pending signup, then every
    # write in one statement (resolvers/signup.py, ``_complete_chained``): 11 -> 5.
    "verifyPhone": (5, 1),
    # login: issue 17, -1 (whether TOTP is on read with the account); then 4 -> 2: the
    # account, then the session, its refresh token and the login event in one statement
    # (resolvers/opening.py) instead of three INSERTs. Round trips 6 -> 2: this count does
    # not see the transaction's BEGIN and COMMIT, and one statement needs neither.
    "login": (2, 2),
    # refreshSession: issue 13, +1 (the session's last use and address, for its list); then
    # 4 -> 2: the token with its session, then the claim, the session's last use and the
    # successor in one guarded statement (resolvers/tokens.py, ``_rotate_chained``); round
    # trips 6 -> 2 (BEGIN and COMMIT gone too).
    "refreshSession": (2, 0),
    "me": (1, 0),
    "requestReset": (5, 1),  # 7 -> 5: as signup (the wait row once, a fresh subject's code)
    "resetPassword": (13, 2),
}
# Transaction control of each flow's request: round trips too, which Tortoise does not log
# (counted at asyncpg's Connection.execute). signup and requestReset were BEGIN COMMIT
# (the wait row's first INSERT wrapped alone) BEGIN SAVEPOINT RELEASE COMMIT (the code's
# INSERT in a savepoint): now a lone INSERT is one statement, and a fresh subject's code
# needs no savepoint. signup BEGIN COMMIT -> none (perf-signup-chain): its writes are one
# statement, atomic alone; signup is 8 -> 4 round trips in all.
PINNED_CONTROL: dict[str, tuple[str, ...]] = {
    "signup": (),
    "verifyPhone": ("BEGIN", "COMMIT"),
    "login": (),  # issue 17: its writes are one statement (resolvers/opening.py)
    "refreshSession": (),  # issue 17: one guarded statement (tokens._rotate_chained)
    "me": (),
    "requestReset": ("BEGIN", "COMMIT"),
    "resetPassword": ("BEGIN", "COMMIT"),
}
# The outbox worker's writes to claim, send and record one message (its reads are polls,
# whose number depends on when it wakes). Issue 17: ["UPDATE", "INSERT", "UPDATE"] (the
# claim; the try and the row's new state, in BEGIN ... COMMIT) -> ["UPDATE", "WITH"]: the
# try and the state in one statement; and the signup's transaction hands its message to
# this process's worker at commit (notifier/outbox.py, ``Outbox.committing``), which claims
# it by id with no poll before (polls are not counted here: they were reads).
PINNED_OUTBOX = ["UPDATE", "WITH"]


async def test_each_flow_makes_its_pinned_round_trips(
    make_settings, start_app, redis_url, monkeypatch
):
    # given: Redis limits, no resend wait, a worker that only wakes when told
    settings = make_settings(
        RATE_LIMIT_STORAGE=redis_url, RESEND_COOLDOWN_SECONDS="0", OUTBOX_POLL_SECONDS="60"
    )
    seen: dict[str, tuple[int, int]] = {}
    control: dict[str, tuple[str, ...]] = {}
    async with start_app(settings) as api, contextlib.AsyncExitStack():
        phone = new_phone()
        # A request before counting: it opens the database pool, and loads the limits'
        # script into Redis (a fresh Redis answers its first call with NOSCRIPT, and
        # redis-py then loads it: two more calls, once per Redis).
        warm = {"input": {"phone": new_phone(), "password": STRONG_PASSWORD}}
        await api.run(d.SIGNUP, warm)
        with counting(monkeypatch) as trips:
            # when: each flow once, in the order a person meets them
            sent_ = await request(
                api, trips, d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}}
            )
            seen["signup"], control["signup"] = trips.counts, tuple(trips.control)
            trips.worker_sql.clear()
            code = await api.sms.code(phone, "verify_signup")
            await asyncio.create_task(sent(phone, "verify_signup"))
            worker = [
                s.split()[0]
                for s in trips.worker_sql
                # its reads are polls, and DELETEs are the retention sweep's, not the send's
                if any(t in s for t in OUTBOX_TABLES) and not s.startswith(("SELECT", "DELETE"))
            ]
            verify = {"phone": phone, "code": code, "challenge": sent_["challenge"]}
            session = await request(api, trips, d.VERIFY_PHONE, {"input": verify})
            seen["verifyPhone"], control["verifyPhone"] = trips.counts, tuple(trips.control)
            login = {"input": {"identifier": phone, "password": STRONG_PASSWORD}}
            session = await request(api, trips, d.LOGIN, login)
            seen["login"], control["login"] = trips.counts, tuple(trips.control)
            refreshed = await request(api, trips, d.REFRESH, {"token": session["refreshToken"]})
            seen["refreshSession"], control["refreshSession"] = trips.counts, tuple(trips.control)
            await request(api, trips, d.ME, {}, token=refreshed["accessToken"])
            seen["me"], control["me"] = trips.counts, tuple(trips.control)
            reset = await request(api, trips, d.REQUEST_RESET, {"phone": phone})
            seen["requestReset"], control["requestReset"] = trips.counts, tuple(trips.control)
            reset_code = await api.sms.code(phone, "reset_password")
            change = {
                "phone": phone,
                "challenge": reset["challenge"],
                "code": reset_code,
                "newPassword": "quiet harbour lemon 31",
            }
            done = await request(api, trips, d.RESET_PASSWORD, {"input": change})
            seen["resetPassword"], control["resetPassword"] = trips.counts, tuple(trips.control)
    # then
    assert session["__typename"] == "Session" and done["__typename"] == "PasswordReset"
    assert seen == PINNED, seen
    assert control == PINNED_CONTROL, control
    assert worker == PINNED_OUTBOX, worker


async def test_a_fresh_code_and_a_phones_first_wait_are_one_statement_each(api, monkeypatch):
    """What login's second factor (a TOTP account's challenge, a decoy while stepped up)
    and the first claim of a phone's wait cost, outside any transaction: one INSERT each.
    Before: the look for an earlier row, then the INSERT between BEGIN and COMMIT (4 round
    trips each)."""
    rules = codes.CodePolicy(b"k" * 32, 6, 600, 5, 60, 3600, {})
    phone = new_phone()
    with counting(monkeypatch) as trips:
        token = IN_REQUEST.set(True)
        try:
            await codes.issue(
                rules,
                codes.LOGIN,
                subject=codes.new_subject("factor"),
                phone=phone,
                user_id=None,
                bind=True,
                decoy=True,
                fresh=True,
            )
            fresh = [s.split()[0] for s in trips.sql], tuple(trips.control)
            trips.sql.clear()
            await codes.claim_phone_wait(rules, codes.SIGNUP, phone, None)
            claim = [s.split()[0] for s in trips.sql], tuple(trips.control)
        finally:
            IN_REQUEST.reset(token)
    assert fresh == (["INSERT"], ()), fresh
    assert claim == (["INSERT"], ()), claim
