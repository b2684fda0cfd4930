"""kill -9 of the server at the worst moments, then a restart: every message goes out, once.

The server is the real one (``python main.py``, SMS_BACKEND=twilio) in a process group of
its own, sending to the local Twilio double over HTTP. A user signs up, the process is
killed with SIGKILL while its messages are in flight or waiting out an outage, a new
process starts on the same database: each phone then holds exactly one code, and that
code verifies.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from models import OutboxMessage
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.twilio_double import AppProcess, TwilioDouble, orm, server_env

CODE_RE = re.compile(r"code is (\d{6,10})\b")
USERS = 12


def codes_for(twilio: TwilioDouble, phone: str) -> list[str]:
    return [m.group(1) for msg in twilio.to(phone) if (m := CODE_RE.search(msg.body))]


CHALLENGES: dict[str, str] = {}  # each phone's signup challenge, for verifyPhone


async def sign_up(app: AppProcess, phones: list[str]) -> None:
    for phone in phones:
        answer = await asyncio.to_thread(
            app.graphql, d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}}
        )
        assert answer["__typename"] == "VerificationSent", answer
        CHALLENGES[phone] = answer["challenge"]


async def states(database_url: str, phones: list[str]) -> dict[str, int]:
    async with orm(database_url):
        rows = await OutboxMessage.filter(phone__in=phones, action="verify_signup")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def restart_and_settle(
    twilio: TwilioDouble, env: dict[str, str], database_url: str, phones: list[str]
) -> dict[str, object]:
    """A new server on the same database; each phone's code arrives and verifies."""
    app = await asyncio.to_thread(AppProcess(env).start)
    try:
        seen: dict[str, int] = {}

        async def all_sent() -> bool:
            seen.clear()
            seen.update(await states(database_url, phones))
            return seen.get("sent", 0) == len(phones)

        # a bound on liveness, not a timing: a few seconds here, more on a loaded machine
        try:
            await until(all_sent, 60, "not every message was sent after the restart")
        except AssertionError as e:
            raise AssertionError(f"{e}: states {seen}; server log:\n{app.output()[-3000:]}")
        await asyncio.sleep(0.5)  # room for a late duplicate
        received = {phone: codes_for(twilio, phone) for phone in phones}
        verified = 0
        for phone in phones:
            for code in received[phone][:1]:
                session = await asyncio.to_thread(
                    app.graphql,
                    d.VERIFY_PHONE,
                    {"input": {"phone": phone, "challenge": CHALLENGES[phone], "code": code}},
                )
                verified += session["__typename"] == "Session"
        log = app.output()
        codes_in_log = [c for codes in received.values() for c in codes if c in log]
    finally:
        await asyncio.to_thread(app.terminate)
    counts = [len(codes) for codes in received.values()]
    return {
        "queued": len(phones),
        "sent": sum(1 for n in counts if n >= 1),
        "duplicated": sum(n - 1 for n in counts if n > 1),
        "lost": sum(1 for n in counts if n == 0),
        "verified": verified,
        "codes in the server log": len(codes_in_log),
    }


def report(name: str, figures: dict[str, object]) -> None:
    print(f"\n{name}: {figures}")


async def test_kill_9_mid_send_then_a_restart_sends_every_code_exactly_once(database_url, twilio):
    # given: Twilio accepts each message at once but answers only much later
    twilio.delay(60, record=True)
    env = server_env(twilio, database_url, OUTBOX_CONCURRENCY="4", TWILIO_TIMEOUT_SECONDS="5")
    phones = [new_phone() for _ in range(USERS)]
    first = await asyncio.to_thread(AppProcess(env).start)
    try:
        await sign_up(first, phones)

        async def in_flight() -> bool:
            return sum(len(twilio.to(p)) for p in phones) >= 4

        await until(in_flight, 10, "the first server never sent")
        # when: kill -9 while four sends wait for Twilio's answer
        await asyncio.to_thread(first.kill)
    finally:
        await asyncio.to_thread(first.kill)
    at_kill = await states(database_url, phones)
    accepted_before = sum(len(twilio.to(p)) for p in phones)
    twilio.reset()
    figures = await restart_and_settle(twilio, env, database_url, phones)
    report(f"kill -9 mid-send (states at kill {at_kill}, accepted {accepted_before})", figures)
    # then
    # Twilio holds messages the dead server never recorded as sent (most still "sending")
    assert accepted_before >= 4 and at_kill.get("sent", 0) == 0
    assert figures["sent"] == USERS and figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["verified"] == USERS
    assert figures["codes in the server log"] == 0


async def test_kill_9_during_an_outage_then_a_restart_sends_every_code_exactly_once(
    database_url, twilio
):
    # given: Twilio down; the server keeps retrying
    twilio.outage(503)
    env = server_env(twilio, database_url)
    phones = [new_phone() for _ in range(USERS)]
    first = await asyncio.to_thread(AppProcess(env).start)
    try:
        await sign_up(first, phones)

        async def all_tried() -> bool:
            return all(len(twilio.seen(p)) >= 2 for p in phones)

        await until(all_tried, 15, "the first server did not retry every message")
        # when
        await asyncio.to_thread(first.kill)
    finally:
        await asyncio.to_thread(first.kill)
    at_kill = await states(database_url, phones)
    twilio.recover()
    figures = await restart_and_settle(twilio, env, database_url, phones)
    report(f"kill -9 during an outage (states at kill {at_kill})", figures)
    # then
    assert figures["sent"] == USERS and figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["verified"] == USERS
    assert figures["codes in the server log"] == 0
