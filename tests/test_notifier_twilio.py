"""The Twilio sender against the local Twilio double: the real SDK over real HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from notifier.senders import SendError
from notifier.twilio import TwilioSender
from tests.support import new_phone
from tests.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, MAGIC_TO, TwilioDouble

CALLBACK = "https://phonegate.example/twilio/status"


@pytest.fixture
async def sender(twilio: TwilioDouble) -> AsyncIterator[TwilioSender]:
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
        timeout_seconds=0.5,
    )
    yield sender
    await sender.close()


async def send(sender: TwilioSender, to: str, body: str = "hello") -> str | None:
    return await sender.send(to, body, action="verify_signup", status_callback=CALLBACK)


async def test_send_gives_the_sid_twilio_accepted_it_under(sender, twilio):
    # given
    phone = new_phone()
    # when
    sid = await send(sender, phone, "Your code is 123456")
    # then
    (accepted,) = twilio.to(phone)
    assert sid == accepted.sid and sid.startswith("SM")
    assert accepted.body == "Your code is 123456"
    assert accepted.sender == FROM_NUMBER
    assert accepted.status_callback == CALLBACK


async def test_a_messaging_service_is_sent_instead_of_a_from_number(twilio):
    # given
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid="MG" + "a" * 32,
        base_url=twilio.base_url,
    )
    phone = new_phone()
    # when
    await sender.send(phone, "hi", action="account_deleted", status_callback=None)
    await sender.close()
    # then
    (accepted,) = twilio.to(phone)
    assert accepted.sender == "MG" + "a" * 32 and accepted.status_callback == ""


@pytest.mark.parametrize(("to", "code"), sorted(MAGIC_TO.items()))
async def test_twilio_magic_numbers_are_permanent_refusals_with_their_code(sender, to, code):
    # when
    with pytest.raises(SendError) as refused:
        await send(sender, to)
    # then
    assert refused.value.code == code
    assert not refused.value.transient and not refused.value.uncertain


async def test_unavailable_and_rate_limited_are_transient_and_not_accepted(sender, twilio):
    # given
    phone = new_phone()
    twilio.fail_next(1, 503)
    twilio.rate_limit_next(1)
    # when
    errors = []
    for _ in range(2):
        with pytest.raises(SendError) as failed:
            await send(sender, phone)
        errors.append(failed.value)
    # then
    assert [(e.code, e.transient, e.uncertain) for e in errors] == [
        (20503, True, False),
        (20429, True, False),
    ]
    assert twilio.to(phone) == []


async def test_an_internal_error_may_have_been_accepted(sender, twilio):
    twilio.fail_next(1, 500)
    with pytest.raises(SendError) as failed:
        await send(sender, new_phone())
    assert failed.value.transient and failed.value.uncertain


async def test_a_hanging_twilio_is_cut_at_the_timeout(sender, twilio):
    # given
    twilio.delay(5, record=False)
    started = time.monotonic()
    # when
    with pytest.raises(SendError) as failed:
        await send(sender, new_phone())
    # then
    assert time.monotonic() - started < 1.5
    assert failed.value.transient and failed.value.uncertain


async def test_an_unreachable_twilio_is_transient_and_certainly_not_sent(twilio):
    # given: a port nothing listens on
    twilio.stop()
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
        timeout_seconds=2,
    )
    # when
    with pytest.raises(SendError) as failed:
        await send(sender, new_phone())
    await sender.close()
    # then
    assert failed.value.transient and not failed.value.uncertain


async def test_wrong_credentials_are_permanent_and_fixable_by_an_operator(twilio):
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token="not-the-token",
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
    )
    with pytest.raises(SendError) as refused:
        await send(sender, new_phone())
    await sender.close()
    assert refused.value.code == 20003
    assert not refused.value.transient and refused.value.fixable


async def test_find_sent_names_only_matching_messages_since_a_moment(sender, twilio):
    # given
    phone = new_phone()
    first = await send(sender, phone, "Your code is 111111")
    await send(sender, phone, "Your code is 222222")
    await send(sender, new_phone(), "Your code is 111111")
    # when
    found = await sender.find_sent(
        phone, "Your code is 111111", since=datetime.now(UTC) - timedelta(minutes=1)
    )
    later = await sender.find_sent(
        phone, "Your code is 111111", since=datetime.now(UTC) + timedelta(minutes=1)
    )
    # then
    assert found == [first]
    assert later == []


async def test_edge_and_region_in_the_environment_do_not_redirect_the_sender(twilio, monkeypatch):
    # given: variables the SDK would turn into api.sydney.au1.twilio.com
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    sender = TwilioSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=twilio.base_url,
    )
    phone = new_phone()
    # when
    sid = await send(sender, phone)
    await sender.close()
    # then
    assert [m.sid for m in twilio.to(phone)] == [sid]
    assert not sender.client.edge and not sender.client.region  # no host rewrite either
