"""Reach through the API (issue 16): the channel a code goes by, the account's locale, the
channel budgets; against the Twilio double (real SDK, real HTTP), as a person would see it."""

from __future__ import annotations

import asyncio
import random
import re
import xml.etree.ElementTree as ET
from typing import Any

from models import User
from tests.support import STRONG_PASSWORD, eventually, new_phone
from tests.twilio_double import FROM_NUMBER, TwilioDouble

ERRORS = "__typename ... on MutationError { message } ... on InvalidInput { field }"
SIGNUP = f"""
mutation Signup($input: SignupInput!) {{
  signup(input: $input) {{ {ERRORS} ... on VerificationSent {{ phone challenge }} }}
}}"""
RESEND = f"""
mutation Resend($phone: String!, $challenge: String!, $channel: Channel! = SMS) {{
  resendVerification(phone: $phone, challenge: $challenge, channel: $channel) {{ {ERRORS}
    ... on VerificationSent {{ challenge }} ... on RateLimited {{ retryAfterSeconds }} }}
}}"""
VERIFY_PHONE = f"""
mutation VerifyPhone($input: VerifyPhoneInput!) {{
  verifyPhone(input: $input) {{ {ERRORS} ... on Session {{ accessToken user {{ locale }} }} }}
}}"""
REQUEST_RESET = f"""
mutation RequestReset($phone: String!, $channel: Channel! = SMS) {{
  requestReset(phone: $phone, channel: $channel) {{ {ERRORS}
    ... on ResetCodeSent {{ phone }} ... on RateLimited {{ retryAfterSeconds }} }}
}}"""
LOGIN = f"""
mutation Login($input: LoginInput!, $channel: Channel! = SMS) {{
  login(input: $input, channel: $channel) {{ {ERRORS}
    ... on SecondFactorRequired {{ challenge }} ... on Session {{ accessToken }} }}
}}"""
SET_TWO_FACTOR = """
mutation SetTwoFactor($input: SetTwoFactorInput!) {
  setTwoFactor(input: $input) { __typename }
}"""
ME = "query { me { locale } }"

PUBLIC = "https://accounts.example.com"
ALL_CHANNELS = {
    "PUBLIC_BASE_URL": PUBLIC,
    "TWILIO_WHATSAPP_FROM": FROM_NUMBER,
    "ALLOWED_CHANNELS": "SMS,VOICE,WHATSAPP",
    "RESEND_COOLDOWN_SECONDS": "0",
}
DIGITS = re.compile(r"^(\d(?:, \d)+)\.$")


def spoken_code(twiml: str) -> str:
    """The code a call reads out ("0, 4, 2, 9, 1, 7." twice)."""
    for say in ET.fromstring(twiml).iter("Say"):
        match = DIGITS.match(say.text or "")
        if match:
            return match.group(1).replace(", ", "")
    raise AssertionError(f"no code read in {twiml}")


def texted_code(body: str) -> str:
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


def spanish_mobile() -> str:
    return f"+346{random.randint(10_000_000, 99_999_999)}"


async def signup(api: Any, phone: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    variables = {"input": {"phone": phone, "password": STRONG_PASSWORD, **extra}}
    return await api.run(SIGNUP, variables, headers=headers)


async def verify(api: Any, phone: str, challenge: str, code: str) -> Any:
    variables = {"input": {"phone": phone, "challenge": challenge, "code": code}}
    return await api.run(VERIFY_PHONE, variables)


async def verified_account(api: Any, twilio: TwilioDouble, phone: str, **extra: Any) -> Any:
    sent = await signup(api, phone, **extra)
    (message,) = await twilio.wait(phone)
    session = await verify(api, phone, sent["challenge"], texted_code(message.body))
    await twilio.wait(phone, 2)  # the welcome notice (signup_verified): goes out at once
    return session


async def test_a_signup_by_voice_in_spanish_is_a_call_that_reads_the_code_in_spanish(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        # when
        sent = await signup(api, phone, locale="es", channel="VOICE")
        (call,) = await twilio.wait_call(phone)
        session = await verify(api, phone, sent["challenge"], spoken_code(call.body))
        (welcome,) = await twilio.wait(phone)
        await asyncio.sleep(0.2)
    # then: a call, no SMS but the welcome once verified; Spanish words; the account keeps
    # the language
    assert twilio.to(phone) == [welcome] and welcome.body.startswith("Tu cuenta de")
    assert 'language="es-ES"' in call.body
    assert session["__typename"] == "Session" and session["user"]["locale"] == "es"


async def test_a_whatsapp_signup_code_arrives_at_the_whatsapp_address(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        sent = await signup(api, phone, channel="WHATSAPP", locale="pt-BR")
        (message,) = await twilio.wait("whatsapp:" + phone)
        session = await verify(api, phone, sent["challenge"], texted_code(message.body))
        (welcome,) = await twilio.wait(phone)  # the welcome notice, once verified, by SMS
        await asyncio.sleep(0.2)
    assert message.body.startswith("Use ")
    assert twilio.to(phone) == [welcome] and welcome.body.startswith("Sua conta")
    assert session["user"]["locale"] == "pt-BR"


async def test_without_a_locale_the_account_takes_accept_language_then_the_phone_country(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    by_header, by_country = new_phone(), spanish_mobile()
    async with twilio_app(**ALL_CHANNELS) as api:
        # when
        sent = await signup(api, by_header, headers={"Accept-Language": "ja, fr-CH;q=0.8"})
        (french,) = await twilio.wait(by_header)
        await verify(api, by_header, sent["challenge"], texted_code(french.body))
        sent = await signup(api, by_country)
        (spanish,) = await twilio.wait(by_country)
        await verify(api, by_country, sent["challenge"], texted_code(spanish.body))
        welcome = await twilio.wait(by_country, 2)
        users = await User.filter(phone__in=[by_header, by_country])
    # then: the code and every later message in the inferred language
    assert french.body.startswith("Votre code phonegate")
    assert spanish.body.startswith("Usa ") and welcome[1].body.startswith("Tu cuenta de")
    locales = {u.phone: u.locale for u in users}
    assert locales == {by_header: "fr-CH", by_country: "es"}


async def test_a_malformed_locale_is_invalid_input_and_sends_nothing(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        answer = await signup(api, phone, locale="español!")
        unsupported = await signup(api, new_phone(), locale="ja-JP")
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "locale"
    assert unsupported["__typename"] == "VerificationSent"  # falls back: English
    assert twilio.seen(phone) == []


async def test_a_channel_outside_allowed_channels_is_invalid_input_on_every_flow_and_sends_nothing(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given: WhatsApp is not allowed (the default ALLOWED_CHANNELS is SMS,VOICE)
    phone, unknown = new_phone(), new_phone()
    async with twilio_app(PUBLIC_BASE_URL=PUBLIC, RESEND_COOLDOWN_SECONDS="0") as api:
        await verified_account(api, twilio, phone)
        before = len(twilio.seen(phone))
        # when
        answers = [
            await signup(api, phone, channel="WHATSAPP"),
            await signup(api, unknown, channel="WHATSAPP"),
            await api.run(REQUEST_RESET, {"phone": phone, "channel": "WHATSAPP"}),
            await api.run(REQUEST_RESET, {"phone": unknown, "channel": "WHATSAPP"}),
            await api.run(
                LOGIN,
                {
                    "input": {"identifier": phone, "password": STRONG_PASSWORD},
                    "channel": "WHATSAPP",
                },
            ),
        ]
    # then: the same typed answer for a registered and an unknown phone, nothing sent
    assert {(a["__typename"], a["field"]) for a in answers} == {("InvalidInput", "channel")}
    assert answers[0] == answers[1] and answers[2] == answers[3]
    assert len(twilio.seen(phone)) == before and twilio.seen(unknown) == []
    assert twilio.seen("whatsapp:" + phone) == []


async def test_a_resend_by_voice_keeps_the_wrong_guesses_of_the_sms_code(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        # given: two wrong guesses against the SMS code
        sent = await signup(api, phone)
        await twilio.wait(phone)
        challenge = sent["challenge"]
        first = [await verify(api, phone, challenge, "000000") for _ in range(2)]
        # when: the code comes again by a call
        resent = await api.run(RESEND, {"phone": phone, "challenge": challenge, "channel": "VOICE"})
        (call,) = await twilio.wait_call(phone)
        code = spoken_code(call.body)
        wrong = "111111" if code != "111111" else "222222"
        then = [await verify(api, phone, challenge, wrong) for _ in range(3)]
        right = await verify(api, phone, challenge, code)
    # then: 2 + 3 wrong guesses exhaust the 5 allowed; the called code is dead too
    assert resent["__typename"] == "VerificationSent" and resent["challenge"] == challenge
    assert [a["__typename"] for a in first] == ["InvalidCode", "InvalidCode"]
    assert [a["__typename"] for a in then] == ["InvalidCode", "InvalidCode", "TooManyAttempts"]
    assert right["__typename"] == "TooManyAttempts"


async def test_the_call_budget_is_its_own_tier_and_refuses_alike_for_any_phone(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    # given: the voice tier allows 3 calls in 10 minutes; the shared budget is wider here
    registered, unknown = new_phone(), new_phone()
    limits = "sms_per_client=1000/minute,sms_per_prefix=1000/minute,sms_per_phone=20/hour"
    async with twilio_app(**ALL_CHANNELS, RATE_LIMITS=limits) as api:
        await verified_account(api, twilio, registered)
        # when: an outsider asks for 4 resets by call for each phone, then one by SMS
        answers: dict[str, list[str]] = {}
        for phone in (registered, unknown):
            calls = [
                await api.run(REQUEST_RESET, {"phone": phone, "channel": "VOICE"}) for _ in range(4)
            ]
            sms = await api.run(REQUEST_RESET, {"phone": phone})
            answers[phone] = [a["__typename"] for a in [*calls, sms]]
        await twilio.wait_call(registered, 3)
    # then: the fourth call is RateLimited for both; an SMS still goes; 3 calls placed
    expected = ["ResetCodeSent"] * 3 + ["RateLimited", "ResetCodeSent"]
    assert answers[registered] == answers[unknown] == expected
    assert len(twilio.call_to(registered)) == 3 and twilio.call_to(unknown) == []


async def test_later_messages_to_an_account_use_its_locale(
    twilio_app: Any, twilio: TwilioDouble
) -> None:
    phone = new_phone()
    async with twilio_app(**ALL_CHANNELS) as api:
        # given: a German account with two-step login
        session = await verified_account(api, twilio, phone, locale="de")
        api.token = session["accessToken"]
        await api.run(
            SET_TWO_FACTOR, {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}}
        )
        api.token = None
        # when: it logs in, its login code by call, and asks for a reset by SMS
        login = await api.run(
            LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}, "channel": "VOICE"}
        )
        (call,) = await twilio.wait_call(phone)
        await api.run(REQUEST_RESET, {"phone": phone})
        await eventually(lambda: _texted(twilio, phone, "jetzt aktiviert", "neues Passwort"))
        me = await api.run(ME, token=session["accessToken"])
    # then: the login code called in German; the notice and the reset code texted in German
    assert login["__typename"] == "SecondFactorRequired"
    assert 'language="de-DE"' in call.body
    assert me == {"locale": "de"}


async def _texted(twilio: TwilioDouble, phone: str, *words: str) -> bool:
    bodies = " ".join(m.body for m in twilio.to(phone))
    return all(word in bodies for word in words)
