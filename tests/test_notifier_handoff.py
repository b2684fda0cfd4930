"""Messages handed to this process's worker at commit (notifier/outbox.py,
``Outbox.committing``): claimed by id and sent at once, without a poll, and still never
lost, never sent twice, and never sent for a change that did not commit.

Every test here but the last runs its worker with a 60 s poll and nothing wakes it: a
message that goes out at once went by the hand-over.

Against the local Twilio double through the real SDK, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from tortoise.transactions import in_transaction

from models import OutboxMessage
from notifier.actions import Action
from tests import documents as d
from tests.support import new_phone
from tests.test_notifier_outbox import codes_to, settled, signup, tries


class Boom(Exception):
    pass


async def test_a_signup_code_is_sent_by_the_process_that_wrote_it_without_a_claim(
    twilio_app, twilio
):
    # given
    phone = new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="60") as api:
        # when
        await signup(api, phone)
        row = await settled(phone)
        tried = await tries(row)
    # then: one SMS, one try
    assert len(twilio.to(phone)) == 1
    assert row.state == "sent" and row.attempts == 1
    assert tried == [("sent", None)]


async def test_a_transaction_that_rolls_back_hands_nothing_over(twilio_app, twilio):
    # given
    phone, later = new_phone(), new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="60") as api:
        outbox = api.app.state.deps.outbox
        # when: three transactions queue a message and then fail
        for _ in range(3):
            with pytest.raises(Boom):
                async with outbox.committing():
                    await outbox.enqueue(Action.ACCOUNT_DELETED, phone)
                    raise Boom()
        await signup(api, later)
        row = await settled(later)
        await asyncio.sleep(0.2)
        written = await OutboxMessage.filter(phone=phone).exists()
    # then: nothing of theirs was written or sent; the next transaction's message goes out
    assert not written
    assert twilio.to(phone) == []
    assert row.state == "sent"


async def test_a_message_queued_in_a_savepoint_that_rolls_back_is_never_sent(twilio_app, twilio):
    # given
    gone, kept = new_phone(), new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="60") as api:
        outbox = api.app.state.deps.outbox
        # when: the outer transaction commits, its savepoint holding one message does not
        async with outbox.committing():
            with contextlib.suppress(Boom):
                async with in_transaction():
                    await outbox.enqueue(Action.ACCOUNT_DELETED, gone)
                    raise Boom()
            await outbox.enqueue(Action.ACCOUNT_DELETED, kept)
        row = await settled(kept, "account_deleted")
        await asyncio.sleep(0.3)
        written = await OutboxMessage.filter(phone=gone).exists()
    # then
    assert not written
    assert twilio.to(gone) == []
    assert row.state == "sent" and len(twilio.to(kept)) == 1


async def test_a_message_queued_in_a_savepoint_that_commits_goes_out_at_commit(twilio_app, twilio):
    # given
    phone = new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="60") as api:
        outbox = api.app.state.deps.outbox
        # when
        async with outbox.committing(), in_transaction():
            await outbox.enqueue(Action.ACCOUNT_DELETED, phone)
        row = await settled(phone, "account_deleted")
    # then
    assert row.state == "sent" and len(twilio.to(phone)) == 1


async def test_a_process_that_dies_at_the_commit_loses_nothing_and_sends_nothing_twice(
    twilio_app, twilio, monkeypatch
):
    # given: the process that queued the message dies right after its commit, before its
    # worker claims it: the message is an ordinary queued one, hand-over token and all
    phone = new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="0.1") as api:
        handed: list[object] = []
        monkeypatch.setattr(api.app.state.worker, "hand_over", handed.extend)
        # when: another look for due messages (here the same worker's poll) finds it
        await signup(api, phone)
        row = await settled(phone)
        await asyncio.sleep(0.3)
        tried = await tries(row)
    # then: sent once, by that claim
    assert len(handed) == 1
    assert len(twilio.to(phone)) == 1
    assert row.state == "sent" and tried == [("sent", None)]


async def test_the_notices_of_a_verification_and_of_a_reset_go_out_at_once(twilio_app, twilio):
    # given: a worker whose poll would wait 60 s (on PostgreSQL the verification writes its
    # notice within one statement chain, on SQLite through the ORM)
    phone = new_phone()
    async with twilio_app(OUTBOX_POLL_SECONDS="60") as api:
        sent, _ = await signup(api, phone)
        await settled(phone)
        (code,) = codes_to(twilio, phone)
        # when
        verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
        session = await api.run(d.VERIFY_PHONE, {"input": verify})
        verified = await settled(phone, "signup_verified")
        reset = await api.run(d.REQUEST_RESET, {"phone": phone})
        await settled(phone, "reset_password")
        reset_code = codes_to(twilio, phone)[-1]
        change = {
            "phone": phone,
            "challenge": reset["challenge"],
            "code": reset_code,
            "newPassword": "quiet harbour lemon 31",
        }
        done = await api.run(d.RESET_PASSWORD, {"input": change})
        notice = await settled(phone, "password_reset")
    # then
    assert session["__typename"] == "Session" and done["__typename"] == "PasswordReset"
    assert verified.state == "sent" and notice.state == "sent"
    assert len(twilio.to(phone)) == 4
