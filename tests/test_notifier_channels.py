"""Voice calls and WhatsApp through the outbox (issue 16), against the local Twilio double:
a call whose TwiML reads the code, a WhatsApp message at a ``whatsapp:`` address, Twilio's
refusals for numbers that cannot take them, signed call status callbacks, and nothing lost
or doubled across an outage of either API."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from typing import Any

from tortoise.transactions import in_transaction

from models import MessageAttempt, OutboxMessage
from notifier.actions import Action
from notifier.outbox import Outbox
from notifier.templates import Templates
from tests.support import new_phone
from tests.twilio_double import FROM_NUMBER, TwilioDouble, sign

PUBLIC = "https://accounts.example.com"
CALLBACK_URL = f"{PUBLIC}/twilio/status"
ENV = {"PUBLIC_BASE_URL": PUBLIC, "TWILIO_WHATSAPP_FROM": FROM_NUMBER}


async def queue(phone: str, channel: str, *, code: str = "042917", locale: str = "en") -> None:
    """A login code, queued the way a flow queues it (in a transaction)."""
    async with in_transaction():
        await Outbox(Templates()).enqueue(
            Action.LOGIN_CODE, phone, code=code, minutes=10, channel=channel, locale=locale
        )


async def final(phone: str, timeout: float = 10) -> OutboxMessage:
    deadline = time.monotonic() + timeout
    while True:
        row = await OutboxMessage.filter(phone=phone).order_by("-id").first()
        if row is not None and row.state not in ("queued", "sending"):
            return row
        assert time.monotonic() < deadline, f"message to {phone}: {row and row.state}"
        await asyncio.sleep(0.02)


async def tried(phone: str, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while await MessageAttempt.filter(message__phone=phone).count() < count:
        assert time.monotonic() < deadline, f"fewer than {count} tries to {phone}"
        await asyncio.sleep(0.02)


def spoken(twiml: str) -> list[str]:
    return [say.text or "" for say in ET.fromstring(twiml).iter("Say")]


async def test_a_voice_code_arrives_as_a_call_whose_twiml_reads_it_twice_in_spanish(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ENV):
        # when
        await queue(phone, "voice", locale="es")
        (call,) = await twilio.wait_call(phone)
        row = await final(phone)
    # then: a call, not an SMS, from our number, reporting to the callback URL
    assert twilio.to(phone) == []
    assert call.sender == FROM_NUMBER and call.status_callback == CALLBACK_URL
    assert spoken(call.body).count("0, 4, 2, 9, 1, 7.") == 2
    assert 'language="es-ES"' in call.body and "Su código para entrar es:" in call.body
    assert row.state == "sent" and row.channel == "voice" and row.provider_sid == call.sid
    assert row.body is None  # the code does not stay in the outbox


async def test_a_call_status_callback_is_signed_and_settles_the_message(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ENV) as api:
        await queue(phone, "voice")
        (call,) = await twilio.wait_call(phone)
        await final(phone)
        params = {"CallSid": call.sid, "CallStatus": "completed", "AccountSid": "AC1"}
        # when: one forged, one signed
        forged = await api.http.post(
            "/twilio/status", data=params, headers={"X-Twilio-Signature": "bad"}
        )
        after_forged = (await OutboxMessage.get(provider_sid=call.sid)).state
        signed = await api.http.post(
            "/twilio/status",
            data=params,
            headers={"X-Twilio-Signature": sign(CALLBACK_URL, params)},
        )
        row = await OutboxMessage.get(provider_sid=call.sid)
    # then
    assert (forged.status_code, after_forged) == (403, "sent")
    assert signed.status_code == 204 and row.state == "delivered"


async def test_a_whatsapp_code_arrives_at_a_whatsapp_address_in_german(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ENV):
        await queue(phone, "whatsapp", locale="de")
        (message,) = await twilio.wait("whatsapp:" + phone)
        row = await final(phone)
    assert twilio.to(phone) == [] and twilio.call_to(phone) == []
    assert message.sender == "whatsapp:" + FROM_NUMBER
    assert message.body.startswith("Dein phonegate-Anmeldecode lautet 042917.")
    assert row.state == "sent" and row.channel == "whatsapp"


async def test_a_number_not_on_whatsapp_is_refused_once_and_not_retried(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    twilio.not_on_whatsapp.add(phone)
    async with twilio_app(**ENV):
        await queue(phone, "whatsapp")
        row = await final(phone)
        await asyncio.sleep(0.3)  # room for a retry that must not come
        attempts = await MessageAttempt.filter(message_id=row.id)
    assert (row.state, row.last_error_code) == ("abandoned", 63003)
    assert [a.outcome for a in attempts] == ["refused"]
    assert len(twilio.seen("whatsapp:" + phone)) == 1


async def test_an_unreachable_number_for_a_call_is_refused_once_and_not_retried(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = "+15005550001"  # Twilio's magic invalid number: 13224 for a call
    async with twilio_app(**ENV):
        await queue(phone, "voice")
        row = await final(phone)
        await asyncio.sleep(0.3)
    assert (row.state, row.last_error_code) == ("abandoned", 13224)
    assert len(twilio.seen(phone)) == 1 and twilio.call_to(phone) == []


async def test_nothing_is_lost_or_doubled_across_an_outage_of_either_api(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given: Twilio down for messages and calls alike
    by_voice, by_whatsapp = new_phone(), new_phone()
    twilio.outage(503)
    async with twilio_app(**ENV):
        await queue(by_voice, "voice", code="111222")
        await queue(by_whatsapp, "whatsapp", code="333444")
        await tried(by_voice, 2)
        await tried(by_whatsapp, 2)
        # when
        twilio.recover()
        (call,) = await twilio.wait_call(by_voice)
        (message,) = await twilio.wait("whatsapp:" + by_whatsapp)
        await asyncio.sleep(0.5)  # room for a duplicate to show up
    # then: each arrived exactly once, after failed tries
    assert len(twilio.call_to(by_voice)) == 1 and "1, 1, 1, 2, 2, 2." in call.body
    assert len(twilio.to("whatsapp:" + by_whatsapp)) == 1 and "333444" in message.body
    assert [s.status for s in twilio.seen(by_voice)][-1] == 201
    assert 503 in [s.status for s in twilio.seen(by_voice)]
