"""POST /twilio/status: Twilio's signed delivery-status callbacks move a sent message to its
final state, once; anything unsigned or signed for another URL changes nothing (403)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from models import MessageAttempt, OutboxMessage
from notifier.outbox import record_status
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.twilio_double import TwilioDouble, sign

PUBLIC = "https://accounts.example.com"
CALLBACK_URL = f"{PUBLIC}/twilio/status"


@pytest.fixture
def twilio_app(twilio_app: Callable[..., Any]) -> Callable[..., Any]:
    """The shared fixture, with a public URL so the sender asks for status callbacks."""

    def run(**env: str) -> Any:
        return twilio_app(**{"PUBLIC_BASE_URL": PUBLIC, **env})

    return run


async def sent_message(api: Any, twilio: TwilioDouble) -> tuple[str, OutboxMessage]:
    """A verification SMS, sent: its phone and outbox row."""
    phone = new_phone()
    await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    (accepted,) = await twilio.wait(phone)
    for _ in range(200):
        row = await OutboxMessage.get_or_none(provider_sid=accepted.sid)
        if row is not None:
            return phone, row
        await asyncio.sleep(0.02)
    raise AssertionError("the sent message was never recorded")


def status(sid: str, value: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC1", **extra}


async def post(api: Any, params: dict[str, str], signature: str | None) -> int:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    answer = await api.http.post("/twilio/status", data=params, headers=headers)
    return int(answer.status_code)


async def test_the_sender_asks_twilio_for_callbacks_at_the_public_url(twilio_app, twilio):
    async with twilio_app() as api:
        phone, _ = await sent_message(api, twilio)
    assert [m.status_callback for m in twilio.to(phone)] == [CALLBACK_URL]


async def test_without_a_public_url_no_callback_is_asked_for_or_accepted(twilio_app, twilio):
    async with twilio_app(PUBLIC_BASE_URL="") as api:
        phone, row = await sent_message(api, twilio)
        params = status(row.provider_sid, "delivered")
        answer = await post(api, params, sign("http://testserver/twilio/status", params))
        after = await OutboxMessage.get(id=row.id)
    assert [m.status_callback for m in twilio.to(phone)] == [""]
    assert answer == 403 and after.state == "sent"


async def test_a_signed_delivered_callback_marks_the_message_delivered(twilio_app, twilio):
    async with twilio_app() as api:
        # given
        _, row = await sent_message(api, twilio)
        params = status(row.provider_sid, "delivered")
        # when
        answer = await post(api, params, sign(CALLBACK_URL, params))
        # then
        after = await OutboxMessage.get(id=row.id)
        outcomes = [a.outcome for a in await MessageAttempt.filter(message_id=row.id)]
    assert answer == 204
    assert after.state == "delivered" and after.body is None
    assert outcomes == ["sent", "delivered"]


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "other-url", "other-token", "other-params"],
)
async def test_an_unsigned_or_badly_signed_callback_is_refused_and_changes_nothing(
    twilio_app, twilio, signature
):
    async with twilio_app() as api:
        # given
        _, row = await sent_message(api, twilio)
        params = status(row.provider_sid, "undelivered", ErrorCode="30003")
        forged = {
            "other-url": sign("http://testserver/twilio/status", params),
            "other-token": sign(CALLBACK_URL, params, "not-the-auth-token"),
            "other-params": sign(CALLBACK_URL, status(row.provider_sid, "delivered")),
        }.get(signature or "", signature)
        # when
        answer = await post(api, params, forged)
        after = await OutboxMessage.get(id=row.id)
    # then
    assert answer == 403
    assert after.state == "sent" and after.last_error_code is None


async def test_callbacks_out_of_order_or_repeated_keep_the_final_state(twilio_app, twilio):
    async with twilio_app() as api:
        # given
        _, row = await sent_message(api, twilio)
        sid = row.provider_sid
        # when: delivered overtakes sent; then everything again
        answers = []
        for value in ["delivered", "sent", "queued", "delivered", "undelivered", "sent"]:
            params = status(sid, value)
            answers.append(await post(api, params, sign(CALLBACK_URL, params)))
        after = await OutboxMessage.get(id=row.id)
        outcomes = [a.outcome for a in await MessageAttempt.filter(message_id=row.id)]
    # then
    assert answers == [204] * 6
    assert after.state == "delivered"
    assert outcomes == ["sent", "delivered"]


async def test_an_undelivered_callback_keeps_the_carrier_error_code(twilio_app, twilio):
    async with twilio_app() as api:
        _, row = await sent_message(api, twilio)
        params = status(row.provider_sid, "undelivered", ErrorCode="30003")
        answer = await post(api, params, sign(CALLBACK_URL, params))
        after = await OutboxMessage.get(id=row.id)
        attempts = await MessageAttempt.filter(message_id=row.id).order_by("id")
    assert answer == 204
    assert after.state == "undelivered" and after.last_error_code == 30003
    assert (attempts[-1].outcome, attempts[-1].error_code) == ("undelivered", 30003)


async def test_a_callback_for_an_unknown_message_is_accepted_and_changes_nothing(
    twilio_app, twilio
):
    async with twilio_app() as api:
        params = status("SM" + "0" * 32, "delivered")
        answer = await post(api, params, sign(CALLBACK_URL, params))
    assert answer == 204


async def test_a_callback_that_overtakes_the_record_of_the_sid_is_still_applied(twilio_app, twilio):
    async with twilio_app() as api:
        # given: the message is sent, but the worker has not stored Twilio's id yet
        _, row = await sent_message(api, twilio)
        sid = row.provider_sid
        await OutboxMessage.filter(id=row.id).update(provider_sid=None)

        async def store_sid_later() -> None:
            await asyncio.sleep(0.3)
            await OutboxMessage.filter(id=row.id).update(provider_sid=sid)

        # when
        late = asyncio.create_task(store_sid_later())
        known = await record_status(sid, "delivered", None, wait_seconds=2)
        await late
        after = await OutboxMessage.get(id=row.id)
    # then
    assert known and after.state == "delivered"


def test_the_double_signs_like_twilio():
    # Twilio's documented example (https://www.twilio.com/docs/usage/security)
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
