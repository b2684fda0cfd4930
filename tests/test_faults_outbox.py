"""Outbox guarantees that no test guarded (issue 11, "Behaviour no test guards today"): each
test here fails on the mutation named in it.

- A code message claimed after its code expired is abandoned, not sent (mutation: the
  send-time expiry check in OutboxWorker._attempt removed).
- A bare HTTP 503 from Twilio, plain text without a Twilio error code, is transient and
  retried (mutation: only Twilio's 20xxx codes counted as transient).
- Several workers claiming the same due messages send each exactly once (mutation: the
  claim's UPDATE without its guard on state and claim token). In one process, workers
  sharing an event loop interleave between the read of due rows and the guarded UPDATE,
  so the race shows on SQLite as well as on PostgreSQL; what SQLite cannot show is
  several processes writing at once (tests/test_delivery_workers.py, PostgreSQL only).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta

import pytest

from core.clock import now
from models import OutboxMessage
from notifier.outbox import OutboxWorker, RetryPolicy
from notifier.senders import SendError
from notifier.twilio import TwilioSender
from tests.support import new_phone
from tests.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

PENDING = ("queued", "sending")


async def until_final(query, timeout=15.0):
    deadline = time.monotonic() + timeout
    while await query.filter(state__in=PENDING).exists():
        assert time.monotonic() < deadline, "messages still pending"
        await asyncio.sleep(0.05)


async def test_a_code_message_reached_after_its_code_expired_is_not_sent(api):
    # given: a code message the worker gets to only after its code expired
    phone = new_phone()
    await OutboxMessage.create(
        action="login_code",
        phone=phone,
        body="Your phonegate login code is 123456. It expires in 10 min.",
        state="queued",
        next_attempt_at=now(),
        send_before=now() - timedelta(seconds=1),
    )
    # when
    api.app.state.deps.wake_outbox()
    await until_final(OutboxMessage.filter(phone=phone))
    # then
    row = await OutboxMessage.get(phone=phone)
    assert api.sms.to(phone) == []
    assert row.state == "abandoned" and row.body is None and "expired" in row.last_error


async def test_a_bare_503_from_twilio_is_transient(twilio):
    # given: a load balancer's 503, plain text, no Twilio error code
    twilio.fail_next(1, 503, bare=True)
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
        timeout_seconds=2,
    )
    try:
        # when
        with pytest.raises(SendError) as failed:
            await sender.send(new_phone(), "hello", action="account_deleted", status_callback=None)
    finally:
        await sender.close()
    # then
    assert failed.value.transient and failed.value.code == 503


async def test_a_code_sms_after_a_bare_503_arrives_once(twilio_app, twilio):
    from tests import documents as d
    from tests.support import STRONG_PASSWORD

    phone = new_phone()
    twilio.fail_next(1, 503, to=phone, bare=True)
    async with twilio_app() as api:
        # when
        sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        await twilio.wait(phone)
        await until_final(OutboxMessage.filter(phone=phone))
    # then
    assert sent["__typename"] == "VerificationSent"
    assert [s.status for s in twilio.seen(phone)] == [503, 201]
    assert len(twilio.to(phone)) == 1


async def test_workers_claiming_the_same_messages_send_each_exactly_once(api):
    # given: 200 due messages and three more workers beside the app's own
    token = secrets.token_hex(4)
    rows = [
        OutboxMessage(
            action="identity_change",
            phone=new_phone(),
            body=f"claim race {token} #{i}",
            state="queued",
            next_attempt_at=now(),
            send_before=now() + timedelta(minutes=5),
        )
        for i in range(200)
    ]
    workers = [
        OutboxWorker(
            api.sms, retry=RetryPolicy(base_seconds=0.05, max_seconds=0.2), poll_seconds=0.01
        )
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    try:
        # when
        await OutboxMessage.bulk_create(rows)
        api.app.state.deps.wake_outbox()
        for worker in workers:
            worker.wake()
        await until_final(OutboxMessage.filter(body__startswith=f"claim race {token}"))
        await until_final(OutboxMessage.filter(phone__in=[r.phone for r in rows]))
    finally:
        for worker in workers:
            await worker.stop(drain_seconds=5)
    # then
    bodies = [m.body for m in api.sms.messages if token in m.body]
    assert len(bodies) == 200, f"{len(bodies)} SMS for 200 messages"
    assert len(set(bodies)) == 200
