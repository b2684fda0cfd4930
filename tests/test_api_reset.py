"""Password reset by SMS."""

from __future__ import annotations

import asyncio

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone


async def request_reset(api, phone):
    return await api.run(d.REQUEST_RESET, {"phone": phone})


async def reset(api, phone, challenge, code, password=OTHER_PASSWORD):
    variables = {
        "input": {"phone": phone, "challenge": challenge, "code": code, "newPassword": password}
    }
    return await api.run(d.RESET_PASSWORD, variables)


async def login(api, phone, password):
    return await api.run(d.LOGIN, {"input": {"identifier": phone, "password": password}})


async def test_reset_changes_the_password_and_ends_every_session(api):
    # given
    phone = new_phone()
    session = await signup_verified(api, phone)
    # when
    sent = await request_reset(api, phone)
    still = await api.run(d.ME, token=session["accessToken"])  # a request changes nothing
    code = await api.sms.code(phone, "reset_password")
    done = await reset(api, phone, sent["challenge"], code)
    # then
    assert sent["__typename"] == "ResetCodeSent" and sent["phone"] == phone
    assert still["phone"] == phone
    assert done["__typename"] == "PasswordReset"
    assert await api.run(d.ME, token=session["accessToken"]) is None
    refreshed = await api.run(d.REFRESH, {"token": session["refreshToken"]})
    assert refreshed["__typename"] == "InvalidToken"
    assert (await login(api, phone, STRONG_PASSWORD))["__typename"] == "InvalidCredentials"
    assert (await login(api, phone, OTHER_PASSWORD))["__typename"] == "Session"
    notice = await api.sms.wait(phone, "password_reset")
    assert code not in notice.body


async def test_reset_for_an_unknown_phone_answers_the_same_and_sends_nothing(api):
    known, unknown = new_phone(), new_phone()
    await signup_verified(api, known)
    a = await request_reset(api, known)
    b = await request_reset(api, unknown)
    assert a["__typename"] == b["__typename"] == "ResetCodeSent"
    await api.sms.wait(known, "reset_password")
    await asyncio.sleep(0.1)
    assert api.sms.to(unknown) == []
    assert (await reset(api, unknown, b["challenge"], "123456"))["__typename"] == "InvalidCode"


async def test_a_weak_new_password_is_refused_and_the_code_still_works(api):
    phone = new_phone()
    await signup_verified(api, phone)
    challenge = (await request_reset(api, phone))["challenge"]
    code = await api.sms.code(phone, "reset_password")
    weak = await reset(api, phone, challenge, code, password="password1")
    assert weak["__typename"] == "WeakPassword"
    assert (await reset(api, phone, challenge, code))["__typename"] == "PasswordReset"


async def test_a_code_for_another_purpose_or_phone_does_not_reset(api):
    phone, other = new_phone(), new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    signup_code = await api.sms.code(phone, "verify_signup")
    verify = {"phone": phone, "challenge": sent["challenge"], "code": signup_code}
    await api.run(d.VERIFY_PHONE, {"input": verify})
    await signup_verified(api, other)
    other_challenge = (await request_reset(api, other))["challenge"]
    other_code = await api.sms.code(other, "reset_password")
    mine = (await request_reset(api, phone))["challenge"]
    assert (await reset(api, phone, mine, signup_code))["__typename"] == "InvalidCode"
    # another phone's challenge and code
    assert (await reset(api, phone, other_challenge, other_code))["__typename"] == "InvalidCode"
    assert (await reset(api, other, sent["challenge"], signup_code))["__typename"] == (
        "InvalidCode"
    )


async def test_reset_wrong_codes_end_in_too_many_attempts(api):
    phone = new_phone()
    await signup_verified(api, phone)
    challenge = (await request_reset(api, phone))["challenge"]
    code = await api.sms.code(phone, "reset_password")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [(await reset(api, phone, challenge, wrong))["__typename"] for _ in range(5)]
    assert answers == ["InvalidCode"] * 4 + ["TooManyAttempts"]
    assert (await reset(api, phone, challenge, code))["__typename"] == "TooManyAttempts"


async def test_reset_with_an_expired_code_is_refused(make_settings, start_app):
    async with start_app(make_settings(VERIFICATION_CODE_TTL_SECONDS="1")) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        challenge = (await request_reset(api, phone))["challenge"]
        code = await api.sms.code(phone, "reset_password")
        await asyncio.sleep(1.2)
        assert (await reset(api, phone, challenge, code))["__typename"] == "CodeExpired"


async def test_request_reset_refuses_an_invalid_phone_and_limits_repeats(api):
    bad = await request_reset(api, "12")
    assert bad["__typename"] == "InvalidInput" and bad["field"] == "phone"
    phone = new_phone()
    await request_reset(api, phone)
    again = await request_reset(api, phone)
    assert again["__typename"] == "RateLimited" and again["retryAfterSeconds"] > 0
    bad_reset = await reset(api, "nope", "c", "123456")
    assert bad_reset["__typename"] == "InvalidInput"
