"""deliveryStatus (issue 16): what a person waiting for a code sees of its message, and what
an outsider who knows only a phone number can learn from it: nothing about whether the
phone is registered. Against the Twilio double, with signed status callbacks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from core.clock import now
from models import OutboxMessage
from notifier.outbox import HELD
from tests.attack_support import client, step_up
from tests.support import STRONG_PASSWORD, eventually, new_phone
from tests.test_api_reach import ALL_CHANNELS, PUBLIC, signup, verified_account
from tests.twilio_double import TwilioDouble, sign

STATUS = """
query Status($challenge: String!) {
  deliveryStatus(challenge: $challenge) {
    __typename
    ... on DeliveryStatus { status channel reason }
    ... on RateLimited { retryAfterSeconds }
  }
}"""
RESET_CHALLENGE = """
mutation RequestReset($phone: String!, $channel: Channel! = SMS) {
  requestReset(phone: $phone, channel: $channel) { __typename
    ... on ResetCodeSent { challenge } }
}"""
CALLBACK_URL = f"{PUBLIC}/twilio/status"
DIGITS_READ = re.compile(r"\d, \d, \d")  # a call reading a code: "0, 4, 2, 9, 1, 7."


async def status(api: Any, challenge: str, language: str | None = None) -> Any:
    headers = {"Accept-Language": language} if language else None
    return await api.run(STATUS, {"challenge": challenge}, headers=headers)


async def report(api: Any, sid: str, state: str, error_code: int | None = None) -> None:
    """Twilio's signed status callback for a message or a call."""
    key = "CallSid" if sid.startswith("CA") else "MessageSid"
    params = {key: sid, ("CallStatus" if key == "CallSid" else "MessageStatus"): state}
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    answer = await api.http.post(
        "/twilio/status", data=params, headers={"X-Twilio-Signature": sign(CALLBACK_URL, params)}
    )
    assert answer.status_code == 204


async def until(api: Any, challenge: str, wanted: str) -> Any:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await status(api, challenge))
        return bool(seen["status"] == wanted)

    await eventually(reached, what=f"status {wanted}")
    return seen


async def test_a_signup_shows_its_code_going_from_sent_to_delivered(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        sent = await signup(api, phone, locale="es")
        (message,) = await twilio.wait(phone)
        sent_state = await until(api, sent["challenge"], "SENT")
        # when: Twilio reports it delivered
        await report(api, message.sid, "delivered")
        delivered = await status(api, sent["challenge"])
    assert sent_state == {"__typename": "DeliveryStatus", "status": "SENT", "channel": "SMS",
                          "reason": None}  # fmt: skip
    assert delivered["status"] == "DELIVERED"


async def test_a_failed_message_tells_why_in_plain_words_in_the_readers_language(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        sent = await signup(api, phone)
        (message,) = await twilio.wait(phone)
        await until(api, sent["challenge"], "SENT")
        await report(api, message.sid, "undelivered", 30003)
        english = await status(api, sent["challenge"])
        german = await status(api, sent["challenge"], "de-DE")
    assert english["status"] == "FAILED"
    assert english["reason"] == "The phone is switched off or out of reach."
    assert german["reason"] == "Das Telefon ist ausgeschaltet oder nicht erreichbar."


async def test_a_number_not_on_whatsapp_shows_failed_with_that_reason(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    twilio.not_on_whatsapp.add(phone)
    async with twilio_app(**ALL_CHANNELS) as api:
        sent = await signup(api, phone, channel="WHATSAPP")
        failed = await until(api, sent["challenge"], "FAILED")
    assert failed["channel"] == "WHATSAPP"
    assert failed["reason"] == "That number is not on WhatsApp."


async def test_not_on_whatsapp_reported_later_by_callback_shows_the_same_failure(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    """Twilio files 63003 as an application log entry: it may accept the message (201,
    queued) and report the failure afterwards in the status callback. Either way the person
    reads the same status and reason."""
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        sent = await signup(api, phone, channel="WHATSAPP")
        (message,) = await twilio.wait("whatsapp:" + phone)
        await until(api, sent["challenge"], "SENT")
        # when: Twilio reports it failed, the address unknown to WhatsApp
        await report(api, message.sid, "failed", error_code=63003)
        failed = await until(api, sent["challenge"], "FAILED")
        row = await OutboxMessage.get(provider_sid=message.sid)
    assert failed == {"__typename": "DeliveryStatus", "status": "FAILED", "channel": "WHATSAPP",
                      "reason": "That number is not on WhatsApp."}  # fmt: skip
    assert row.last_error_code == 63003


async def test_signup_status_of_a_registered_phone_reads_like_a_new_ones_by_call_too(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given: one registered phone, one new phone
    registered, new = new_phone(), new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        await verified_account(api, twilio, registered)
        # when: an outsider signs both up by call, and watches the status until answered
        answers = {}
        for phone in (registered, new):
            sent = await signup(api, phone, channel="VOICE")
            (call,) = await twilio.wait_call(phone)
            before = await until(api, sent["challenge"], "SENT")
            await report(api, call.sid, "completed")
            after = await status(api, sent["challenge"])
            answers[phone] = (before, after)
    # then: the same answers; the registered phone's owner got a call, but not a code
    assert answers[registered] == answers[new]
    assert answers[new][1] == {"__typename": "DeliveryStatus", "status": "DELIVERED",
                               "channel": "VOICE", "reason": None}  # fmt: skip
    assert not DIGITS_READ.search(twilio.call_to(registered)[0].body)  # a notice, no code
    assert DIGITS_READ.search(twilio.call_to(new)[0].body)


async def test_reset_status_is_the_same_for_a_registered_and_an_unknown_phone(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given
    registered, unknown = new_phone(), new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        await verified_account(api, twilio, registered)
        # when: resets by WhatsApp for both; the registered one's message fails at Twilio
        twilio.not_on_whatsapp.add(registered)
        challenges = {
            phone: (await api.run(RESET_CHALLENGE, {"phone": phone, "channel": "WHATSAPP"}))[
                "challenge"
            ]
            for phone in (registered, unknown)
        }
        first = {phone: await status(api, c) for phone, c in challenges.items()}
        await twilio.wait_seen("whatsapp:" + registered)
        await eventually(lambda: _abandoned(registered))
        then = {phone: await status(api, c) for phone, c in challenges.items()}
    # then: no difference, before and after the real message failed
    assert first[registered] == first[unknown] == then[registered] == then[unknown]
    assert then[unknown] == {"__typename": "DeliveryStatus", "status": "QUEUED",
                             "channel": "WHATSAPP", "reason": None}  # fmt: skip
    assert twilio.seen("whatsapp:" + unknown) == []


async def test_an_unknown_or_forged_challenge_answers_like_a_reset_decoy(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    async with twilio_app(**ALL_CHANNELS) as api:
        decoy = await api.run(RESET_CHALLENGE, {"phone": new_phone()})
        answers = [
            await status(api, decoy["challenge"]),
            await status(api, "forged-" + "x" * 36),
            await status(api, ""),
            await status(api, "y" * 5000),
        ]
    assert all(a == answers[0] for a in answers)
    assert answers[0] == {"__typename": "DeliveryStatus", "status": "QUEUED", "channel": "SMS",
                          "reason": None}  # fmt: skip


async def test_asking_too_often_is_rate_limited_per_client(make_settings, start_app) -> None:
    settings = make_settings(RATE_LIMITS="status_per_client=3/minute")
    async with start_app(settings) as api:
        answers = [await status(api, "anything") for _ in range(4)]
    assert [a["__typename"] for a in answers][-2:] == ["DeliveryStatus", "RateLimited"]
    assert answers[-1]["retryAfterSeconds"] > 0


async def _abandoned(phone: str) -> bool:
    return await OutboxMessage.filter(phone=phone, state="abandoned").exists()


async def test_a_registered_phones_signup_notice_is_never_merged_into_a_waiting_notice(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given: a notice that had to wait (over the budget) and is about to go, and after it
    # the signup_existing notice a stranger's signup caused
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS):
        async with in_transaction():
            await OutboxMessage.create(
                action="password_changed", phone=phone, body="Your password was changed.",
                state="queued", next_attempt_at=now(), last_error=HELD,
            )  # fmt: skip
            told = await OutboxMessage.create(
                action="signup_existing", phone=phone, body="Someone tried to sign up.",
                state="queued", next_attempt_at=now() + timedelta(seconds=0.5),
            )  # fmt: skip
        # when
        messages = await twilio.wait(phone, 2)

        async def recorded() -> bool:  # the worker records the send after Twilio's answer
            return (await OutboxMessage.get(id=told.id)).state != "sending"

        await eventually(recorded, what="the send recorded")
        row = await OutboxMessage.get(id=told.id)
    # then: it went on its own (merged, the signup's status would stay QUEUED: a registered
    # phone told apart from a new one, whose code goes on its own)
    assert row.state == "sent"
    assert [m.body for m in messages] == ["Your password was changed.", "Someone tried to sign up."]


LOGIN_BY = """
mutation Login($input: LoginInput!, $channel: Channel! = SMS) {
  login(input: $input, channel: $channel) { __typename
    ... on SecondFactorRequired { challenge } }
}"""


async def test_while_stepped_up_a_login_status_tells_no_right_password(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # Before: a right password within its code's resend wait got the live code under a new
    # challenge, whose status showed the channel that code went by; a wrong password's decoy
    # showed the channel asked. Asking by SMS, then by voice, told a right password.
    phone = new_phone()
    env = {
        **ALL_CHANNELS,
        "RATE_LIMITS": "login_per_client=1000/minute,sms_per_client=1000/minute",  # one address
        "RESEND_COOLDOWN_SECONDS": "60",  # the right password's second try: within the wait
    }
    async with twilio_app(**env) as api:
        await verified_account(api, twilio, phone)

        async def login(password: str, channel: str) -> Any:
            variables = {"input": {"identifier": phone, "password": password}, "channel": channel}
            answer = await api.run(LOGIN_BY, variables, headers=client())
            assert answer["__typename"] == "SecondFactorRequired", answer
            return await status(api, answer["challenge"])

        await step_up(api, phone)
        # when: each candidate by SMS, then again by voice within the wait
        seen = {}
        for name, password in (("wrong", "a guess"), ("right", STRONG_PASSWORD)):
            await login(password, "SMS")
            seen[name] = await login(password, "VOICE")
    # then
    assert seen["wrong"] == seen["right"], seen


async def test_while_stepped_up_an_authenticator_accounts_login_status_tells_no_right_password(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # Before: the right password's challenge of an account with only an authenticator app
    # showed SMS whatever channel was asked; a wrong password's decoy showed the one asked.
    from tests.test_api_second_factors import enrol

    phone = new_phone()
    env = {**ALL_CHANNELS, "RATE_LIMITS": "login_per_client=1000/minute,sms_per_client=1000/minute"}
    async with twilio_app(**env) as api:
        await enrol(api, await verified_account(api, twilio, phone))
        await step_up(api, phone)
        seen = {}
        for name, password in (("wrong", "a guess"), ("right", STRONG_PASSWORD)):
            variables = {"input": {"identifier": phone, "password": password}, "channel": "VOICE"}
            answer = await api.run(LOGIN_BY, variables, headers=client())
            seen[name] = await status(api, answer["challenge"])
    assert seen["wrong"] == seen["right"], seen
