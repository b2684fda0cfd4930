"""The outbox worker with the real Twilio sender against the local Twilio double.

The app runs in process (its lifespan starts the worker); Twilio is the double over real
HTTP, failing on demand. What a user sees: the mutation answers at once, the SMS arrives
once, late codes are not sent, nothing stays in the table or the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from core.clock import now
from models import MessageAttempt, OutboxMessage
from notifier.actions import Action
from notifier.admin import requeue_abandoned
from notifier.outbox import OutboxWorker, RetryPolicy
from server.app import make_sender
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    TwilioDouble,
)

CODE_RE = re.compile(r"code is (\d{6,10})\b")
SETTLED = ("sent", "abandoned", "delivered", "undelivered", "failed", "suppressed")


async def signup(api: Any, phone: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    return sent, time.monotonic() - started


def codes_to(twilio: TwilioDouble, phone: str) -> list[str]:
    return [m.group(1) for msg in twilio.to(phone) if (m := CODE_RE.search(msg.body))]


async def settled(phone: str, action: str = "verify_signup", timeout: float = 10) -> Any:
    """The newest message of ``action`` to ``phone`` once it is final (or sent)."""
    deadline = time.monotonic() + timeout
    while True:
        row = await OutboxMessage.filter(phone=phone, action=action).order_by("-id").first()
        if row is not None and row.state in SETTLED:
            return row
        assert time.monotonic() < deadline, f"{action} to {phone}: {row and row.state}"
        await asyncio.sleep(0.02)


async def tries(message: OutboxMessage) -> list[tuple[str, int | None]]:
    attempts = await MessageAttempt.filter(message_id=message.id).order_by("id")
    return [(a.outcome, a.error_code) for a in attempts]


async def tried(phone: str, count: int, timeout: float = 10) -> None:
    """Until the worker has made ``count`` tries of messages to ``phone``."""
    deadline = time.monotonic() + timeout
    while await MessageAttempt.filter(message__phone=phone).count() < count:
        assert time.monotonic() < deadline, f"fewer than {count} tries to {phone}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("failure", ["503", "hang"])
async def test_signup_answers_at_once_during_an_outage_and_the_code_arrives_once_after(
    twilio_app, twilio, failure
):
    # given: Twilio down, answering 503 or not answering at all
    if failure == "503":
        twilio.outage(503)
    else:
        twilio.delay(30, record=False)
    phone = new_phone()
    async with twilio_app() as api:
        # when
        sent, answered_in = await signup(api, phone)
        await tried(phone, 2)
        twilio.recover()
        await twilio.wait(phone)
        await asyncio.sleep(0.3)  # room for a duplicate to show up
        (code,) = codes_to(twilio, phone)
        verify = {"phone": phone, "challenge": sent["challenge"], "code": code}
        session = await api.run(d.VERIFY_PHONE, {"input": verify})
        # then
        assert sent["__typename"] == "VerificationSent"
        assert answered_in < 1.0
        assert session["__typename"] == "Session"
        outcomes = [outcome for outcome, _ in await tries(await settled(phone))]
        assert outcomes[-1] == "sent" and len(outcomes) >= 3
        assert set(outcomes[:-1]) == ({"error"} if failure == "503" else {"unknown"})


async def test_rate_limited_by_twilio_then_sent_once(twilio_app, twilio):
    # given
    phone = new_phone()
    twilio.rate_limit_next(2, to=phone)
    async with twilio_app() as api:
        # when
        await signup(api, phone)
        row = await settled(phone)
        await asyncio.sleep(0.2)
        # then
        assert len(codes_to(twilio, phone)) == 1
        assert await tries(row) == [("error", 20429), ("error", 20429), ("sent", None)]
        assert row.provider_sid == twilio.to(phone)[0].sid


@pytest.mark.parametrize(("phone", "code"), [("+15005550001", 21211), ("refused", 21610)])
async def test_a_permanent_refusal_is_not_retried_and_keeps_its_code(
    twilio_app, twilio, phone, code
):
    # given: one of Twilio's magic numbers, or a number that replied STOP
    if phone == "refused":
        phone = new_phone()
        twilio.refuse(phone, code)
    async with twilio_app() as api:
        # when
        sent, _ = await signup(api, phone)
        row = await settled(phone)
        await asyncio.sleep(0.3)  # a retry would show up by now
        # then
        assert sent["__typename"] == "VerificationSent"
        assert [r.status for r in twilio.seen(phone)] == [400]
        assert row.state == "abandoned" and row.last_error_code == code
        assert row.body is None
        assert await tries(row) == [("refused", code)]


@pytest.mark.parametrize("accepted", [True, False], ids=["slow-twilio", "black-hole"])
async def test_a_timed_out_send_is_not_sent_twice(twilio_app, twilio, accepted):
    # given: the first request is answered after the timeout; Twilio got it or not
    phone = new_phone()
    twilio.delay(3, count=1, record=accepted, to=phone)
    async with twilio_app(TWILIO_TIMEOUT_SECONDS="0.3") as api:
        # when
        started = time.monotonic()
        await signup(api, phone)
        row = await settled(phone)
        took = time.monotonic() - started
        await asyncio.sleep(0.3)
        # then
        (message,) = twilio.to(phone)
        assert row.state == "sent" and row.provider_sid == message.sid
        assert [o for o, _ in await tries(row)] == ["unknown", "found" if accepted else "sent"]
        assert took < 2.5  # the hanging request was cut at its timeout, not waited out


async def test_a_code_that_expires_before_it_could_be_sent_is_never_sent(twilio_app, twilio):
    # given
    twilio.outage(503)
    phone = new_phone()
    async with twilio_app(VERIFICATION_CODE_TTL_SECONDS="1") as api:
        # when
        await signup(api, phone)
        row = await settled(phone, timeout=5)
        twilio.recover()
        await asyncio.sleep(0.5)
    # then
    assert twilio.to(phone) == []
    assert row.state == "abandoned" and row.body is None
    assert "expire" in (row.last_error or "")


async def test_a_resend_during_an_outage_sends_only_the_newest_code(twilio_app, twilio):
    # given
    twilio.outage(503)
    phone = new_phone()
    async with twilio_app(RESEND_COOLDOWN_SECONDS="0") as api:
        first_sent, _ = await signup(api, phone)
        await tried(phone, 2)
        # when
        resent = await api.run(d.RESEND, {"phone": phone, "challenge": first_sent["challenge"]})
        twilio.recover()
        await twilio.wait(phone)
        await asyncio.sleep(0.3)
        (code,) = codes_to(twilio, phone)
        verify = {"phone": phone, "challenge": first_sent["challenge"], "code": code}
        session = await api.run(d.VERIFY_PHONE, {"input": verify})
        # then
        assert resent["__typename"] == "VerificationSent"
        assert session["__typename"] == "Session"  # the one code that arrived is the live one
        first, _ = await OutboxMessage.filter(phone=phone, action="verify_signup").order_by("id")
        assert first.state == "abandoned" and first.body is None


async def test_no_code_stays_in_the_outbox_or_the_log_once_sent(twilio_app, twilio, caplog):
    # given
    caplog.set_level(logging.INFO)  # the level main.py logs at
    phone = new_phone()
    twilio.fail_next(1, 503, to=phone)
    async with twilio_app() as api:
        # when
        await signup(api, phone)
        (message,) = await twilio.wait(phone)
        row = await settled(phone)
        attempts = await MessageAttempt.filter(message_id=row.id)
    # then
    (code,) = codes_to(twilio, phone)
    stored = [row.body, row.last_error] + [a.detail for a in attempts]
    assert row.body is None and len(attempts) == 2
    assert not any(code in (text or "") for text in stored)
    assert code not in caplog.text and message.body not in caplog.text


async def test_a_notice_abandoned_after_its_last_try_is_sent_by_outbox_retry(twilio_app, twilio):
    # given: two tries allowed, both during an outage
    twilio.outage(503)
    phone = new_phone()
    async with twilio_app(OUTBOX_MAX_ATTEMPTS="2") as api:
        deps = api.app.state.deps
        async with in_transaction():
            await deps.outbox.enqueue(Action.ACCOUNT_DELETED, phone)
        deps.wake_outbox()
        abandoned = await settled(phone, "account_deleted")
        twilio.recover()
        # when
        await requeue_abandoned()
        deps.wake_outbox()
        await twilio.wait(phone)
        row = await settled(phone, "account_deleted")
        await asyncio.sleep(0.2)
        # then
        assert abandoned.state == "abandoned" and abandoned.body is not None  # no code in it
        assert len(twilio.to(phone)) == 1 and row.state == "sent" and row.body is None
        assert [o for o, _ in await tries(row)] == ["error", "error", "requeued", "sent"]


async def test_a_code_abandoned_after_its_last_try_keeps_no_body(twilio_app, twilio):
    twilio.outage(503)
    phone = new_phone()
    async with twilio_app(OUTBOX_MAX_ATTEMPTS="2") as api:
        await signup(api, phone)
        row = await settled(phone)
        await requeue_abandoned()
        after = await OutboxMessage.get(id=row.id)
    assert row.state == "abandoned" and row.body is None
    assert after.state == "abandoned"  # nothing to send again: its owner asks for a new code
    assert twilio.to(phone) == []


@pytest.mark.parametrize("accepted", [True, False], ids=["twilio-had-it", "twilio-never-got-it"])
async def test_a_message_left_sending_by_a_dead_worker_goes_out_once_after_its_lease(
    twilio_app, twilio, accepted
):
    # given: a worker claimed the message, maybe sent it, and died before recording it
    phone = new_phone()
    body = f"Your phonegate account was deleted. Goodbye. ({phone})"
    sid = None
    if accepted:
        sid = await send_directly(twilio, phone, body)
    async with twilio_app() as api:
        # when
        await OutboxMessage.create(
            action="account_deleted",
            phone=phone,
            body=body,
            state="sending",
            attempts=1,
            claim_token="dead-worker",
            lease_until=now() - timedelta(seconds=1),
            next_attempt_at=now() - timedelta(seconds=30),
        )
        api.app.state.deps.wake_outbox()
        row = await settled(phone, "account_deleted")
        await asyncio.sleep(0.2)
        # then
        (message,) = twilio.to(phone)
        assert row.state == "sent" and row.provider_sid == message.sid
        assert [o for o, _ in await tries(row)] == ["lost", "found" if accepted else "sent"]
        assert sid is None or message.sid == sid


async def test_a_live_worker_keeps_a_slow_send_past_its_lease_from_a_second_worker(
    twilio_app, twilio
):
    # given: two workers; Twilio takes 4 s to answer, the lease is 3 s
    phone = new_phone()
    twilio.delay(4, count=1, to=phone)
    async with twilio_app(OUTBOX_LEASE_SECONDS="3", TWILIO_TIMEOUT_SECONDS="10") as api:
        settings = api.app.state.deps.settings
        other = OutboxWorker(
            make_sender(settings),
            retry=RetryPolicy(lease_seconds=3, base_seconds=0.05, max_seconds=0.2),
            poll_seconds=0.05,
        )
        other.start()
        try:
            # when
            await signup(api, phone)
            row = await settled(phone)
            await asyncio.sleep(0.3)
        finally:
            await other.stop(drain_seconds=5)
            await other.sender.close()
        # then: sent once, by the worker that claimed it, never taken over
        assert len(twilio.to(phone)) == 1
        assert await tries(row) == [("sent", None)]


async def send_directly(twilio: TwilioDouble, phone: str, body: str) -> str | None:
    from notifier.twilio import TwilioSender

    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
    )
    try:
        return await sender.send(phone, body, action="account_deleted", status_callback=None)
    finally:
        await sender.close()


def test_retry_waits_grow_exponentially_with_jitter_and_stay_under_the_cap():
    # given
    policy = RetryPolicy(base_seconds=1.0, max_seconds=60.0)
    # when
    waits = {n: [policy.delay(n) for _ in range(200)] for n in range(1, 12)}
    # then
    for n, samples in waits.items():
        step = min(60.0, 2.0 ** (n - 1))
        assert all(step / 2 <= w <= step for w in samples), n
        assert len({round(w, 6) for w in samples}) > 1  # jittered, not lockstep
    assert max(max(s) for s in waits.values()) <= 60.0
