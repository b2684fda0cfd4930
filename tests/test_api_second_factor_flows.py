"""Login and reset with the authenticator app on: the second factor is asked for, SMS only
when SMS is among the methods; TOTP codes work once and count like SMS codes; recovery codes
work once; a reset by SMS alone is refused; every flow writes its security event."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import pyotp

from core.masking import mask_phone
from models import SecurityEvent
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, Api
from tests.test_api_second_factors import a_wrong_code, enrol, me, notice_saying

AGENT = "Factor-Test/2.0"


async def login(api: Api, phone: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
    return await api.run(
        d.LOGIN_METHODS,
        {"input": {"identifier": phone, "password": password}},
        headers={"User-Agent": AGENT},
    )


async def verify(api: Api, challenge: str, code: str, method: str) -> dict[str, Any]:
    variables = {"input": {"challenge": challenge, "code": code, "method": method}}
    return await api.run(d.VERIFY_LOGIN, variables, headers={"User-Agent": AGENT})


def next_code(secret: str) -> str:
    """The app's code for the next step (within the drift window, after any used now)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


async def test_login_with_totp_on_asks_for_it_and_sends_no_sms(api):
    # given
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, _ = await enrol(api, session)
    # when
    step_up = await login(api, phone)
    # then
    assert step_up["__typename"] == "SecondFactorRequired"
    assert step_up["methods"] == ["TOTP", "RECOVERY_CODE"]
    assert step_up["sentTo"] is None
    done = await verify(api, step_up["challenge"], next_code(secret), "TOTP")
    assert done["__typename"] == "Session"
    await asyncio.sleep(0.1)
    assert api.sms.to(phone, "login_code") == []
    events = (await me(api, done))["securityEvents"]
    assert events[0]["kind"] == "login" and events[0]["userAgent"] == AGENT


async def test_a_totp_code_is_refused_the_second_time_in_its_window(api):
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, _ = await enrol(api, session)
    code = next_code(secret)
    first = await login(api, phone)
    assert (await verify(api, first["challenge"], code, "TOTP"))["__typename"] == "Session"
    second = await login(api, phone)
    replay = await verify(api, second["challenge"], code, "TOTP")
    assert replay["__typename"] == "InvalidCode"


async def test_wrong_totp_codes_count_against_the_login_challenge(api):
    # given
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, _ = await enrol(api, session)
    challenge = (await login(api, phone))["challenge"]
    wrong = a_wrong_code(secret)
    # when five wrong codes come at once (aliases and parallel requests each count)
    answers = await asyncio.gather(*[verify(api, challenge, wrong, "TOTP") for _ in range(5)])
    # then the challenge is dead, even for the right code
    kinds = Counter(a["__typename"] for a in answers)
    assert set(kinds) <= {"InvalidCode", "TooManyAttempts"}, kinds
    late = await verify(api, challenge, next_code(secret), "TOTP")
    assert late["__typename"] == "TooManyAttempts"
    # and an SMS code on a TOTP-only login never works
    fresh = (await login(api, phone))["challenge"]
    assert (await verify(api, fresh, "123456", "SMS"))["__typename"] == "InvalidCode"


async def test_a_recovery_code_logs_in_once_and_tells_the_phone(api):
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    _, codes = await enrol(api, session)
    first = await login(api, phone)
    done = await verify(api, first["challenge"], codes[0].upper(), "RECOVERY_CODE")
    assert done["__typename"] == "Session"
    await notice_saying(api, phone, "A recovery code was used")
    again = await login(api, phone)
    reused = await verify(api, again["challenge"], codes[0], "RECOVERY_CODE")
    assert reused["__typename"] == "InvalidCode"
    state = await me(api, done)
    assert state["recoveryCodesLeft"] == 9
    kinds = [e["kind"] for e in state["securityEvents"]]
    assert kinds[:2] == ["login", "recovery_code_used"]


async def test_twenty_parallel_logins_with_one_recovery_code_give_one_session(
    make_settings, start_app
):
    settings = make_settings(RATE_LIMITS="login_per_client=100/minute,verify_per_client=100/minute")
    async with start_app(settings) as api:
        session = await signup_verified(api)
        phone = session["user"]["phone"]
        _, codes = await enrol(api, session)
        challenges = [(await login(api, phone))["challenge"] for _ in range(20)]
        answers = await asyncio.gather(
            *[verify(api, c, codes[3], "RECOVERY_CODE") for c in challenges]
        )
        kinds = Counter(a["__typename"] for a in answers)
        assert kinds == {"Session": 1, "InvalidCode": 19}, kinds
        assert (await me(api, session))["recoveryCodesLeft"] == 9


async def test_with_sms_two_factor_too_the_sms_code_still_works(api):
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    await enrol(api, session)
    turned = await api.run(
        d.SET_TWO_FACTOR,
        {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}},
        token=session["accessToken"],
    )
    assert turned["__typename"] == "TwoFactorUpdated"
    step_up = await login(api, phone)
    assert step_up["methods"] == ["SMS", "TOTP", "RECOVERY_CODE"]
    assert step_up["sentTo"] and phone not in step_up["sentTo"]
    code = await api.sms.code(phone, "login_code")
    assert (await verify(api, step_up["challenge"], code, "SMS"))["__typename"] == "Session"


async def test_a_wrong_password_is_recorded_for_the_owner_to_see(api):
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    assert (await login(api, phone, "not my password at all"))["__typename"] == (
        "InvalidCredentials"
    )
    kinds = [e["kind"] for e in (await me(api, session))["securityEvents"]]
    assert kinds[0] == "login_failed" and "signup" in kinds


async def reset(api: Api, phone: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """requestReset then resetPassword with its code (and ``extra`` input fields)."""
    sent = await api.run(d.REQUEST_RESET, {"phone": phone})
    assert sent["__typename"] == "ResetCodeSent", sent
    count = len(api.sms.to(phone, "reset_password")) + 1
    code = await api.sms.code(phone, "reset_password", count=count)
    base = {"phone": phone, "challenge": sent["challenge"], "code": code}
    answer = await api.run(
        d.RESET_PASSWORD, {"input": {**base, "newPassword": OTHER_PASSWORD, **extra}}
    )
    return answer, base


async def test_reset_by_sms_alone_is_refused_with_totp_on(api):
    # given
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, _ = await enrol(api, session)
    # when the SMS code alone is given
    answer, base = await reset(api, phone)
    # then the answer says a second factor is needed, and nothing changed
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "secondFactorCode"
    assert (await me(api, session)) is not None
    wrong = await api.run(
        d.RESET_PASSWORD,
        {
            "input": {
                **base,
                "newPassword": OTHER_PASSWORD,
                "secondFactorCode": a_wrong_code(secret),
            }
        },
    )
    assert wrong["__typename"] == "InvalidCode"
    assert (await login(api, phone))["__typename"] == "SecondFactorRequired"  # old password
    # when the same SMS code comes with a TOTP code
    done = await api.run(
        d.RESET_PASSWORD,
        {"input": {**base, "newPassword": OTHER_PASSWORD, "secondFactorCode": next_code(secret)}},
    )
    # then
    assert done["__typename"] == "PasswordReset"
    assert (await me(api, session)) is None
    step_up = await login(api, phone, OTHER_PASSWORD)
    assert step_up["__typename"] == "SecondFactorRequired"


async def test_reset_with_a_recovery_code_works_once(make_settings, start_app):
    settings = make_settings(RESEND_COOLDOWN_SECONDS="0", RATE_LIMITS="sms_per_phone=50/minute")
    async with start_app(settings) as api:
        session = await signup_verified(api)
        phone = session["user"]["phone"]
        _, codes = await enrol(api, session)
        done, _ = await reset(api, phone, secondFactorCode=codes[5])
        assert done["__typename"] == "PasswordReset"
        await notice_saying(api, phone, "A recovery code was used")
        again, _ = await reset(api, phone, secondFactorCode=codes[5])
        assert again["__typename"] == "InvalidCode"
        login = await api.run(
            d.LOGIN_METHODS, {"input": {"identifier": phone, "password": OTHER_PASSWORD}}
        )
        verified = await verify(api, login["challenge"], codes[6], "RECOVERY_CODE")
        kinds = [e["kind"] for e in (await me(api, verified))["securityEvents"]]
        assert kinds[:4] == ["login", "recovery_code_used", "password_reset", "recovery_code_used"]


async def test_password_two_factor_and_logout_changes_are_in_the_history(api):
    session = await signup_verified(api)
    token = session["accessToken"]
    changed = await api.run(
        d.CHANGE_PASSWORD,
        {"input": {"currentPassword": STRONG_PASSWORD, "newPassword": OTHER_PASSWORD}},
        token=token,
    )
    fresh = changed["session"]
    await api.run(
        d.SET_TWO_FACTOR,
        {"input": {"currentPassword": OTHER_PASSWORD, "enabled": True}},
        token=fresh["accessToken"],
    )
    kinds = [e["kind"] for e in (await me(api, fresh))["securityEvents"]]
    assert kinds[:3] == ["two_factor_changed", "password_changed", "signup"]
    out = await api.run(
        d.LOGOUT, {"refreshToken": fresh["refreshToken"]}, token=fresh["accessToken"]
    )
    assert out["__typename"] == "LoggedOut"
    login = await api.run(
        d.LOGIN, {"input": {"identifier": session["user"]["phone"], "password": OTHER_PASSWORD}}
    )
    code = await api.sms.code(session["user"]["phone"], "login_code")
    done = await api.run(d.VERIFY_LOGIN, {"input": {"challenge": login["challenge"], "code": code}})
    kinds = [e["kind"] for e in (await me(api, done))["securityEvents"]]
    assert kinds[:2] == ["login", "session_revoked"]


async def test_no_second_factor_code_reaches_a_log_line_or_an_event(api, caplog):
    caplog.set_level(logging.INFO)
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, codes = await enrol(api, session)
    totp_code = next_code(secret)
    first = await login(api, phone)
    await verify(api, first["challenge"], totp_code, "TOTP")
    second = await login(api, phone)
    await verify(api, second["challenge"], codes[1], "RECOVERY_CODE")
    await verify(api, second["challenge"], codes[2], "RECOVERY_CODE")  # refused: used
    await notice_saying(api, phone, "A recovery code was used")
    stored = await SecurityEvent.filter(user_id=int(session["user"]["id"])).values()
    for value in (secret, totp_code, *codes, codes[1].replace("-", "")):
        assert value not in caplog.text
        assert value not in repr(stored)


async def test_under_attack_a_wrong_password_answers_like_the_right_one_with_totp_on(
    make_settings, start_app
):
    # given an account with TOTP on whose phone has seen too many wrong passwords
    settings = make_settings(RATE_LIMITS="password_failures_per_account=2/minute")
    async with start_app(settings) as api:
        session = await signup_verified(api)
        phone = session["user"]["phone"]
        secret, _ = await enrol(api, session)
        for _ in range(3):
            await login(api, phone, "wrong wrong wrong 1")
        # when
        wrong = await login(api, phone, "wrong wrong wrong 2")
        right = await login(api, phone)
        # then both answer the same: every method and the typed phone masked, as for any
        # identifier stepped up (the account's own methods would show that TOTP is on)
        for answer in (wrong, right):
            assert answer["__typename"] == "SecondFactorRequired"
            assert answer["methods"] == ["SMS", "TOTP", "RECOVERY_CODE"]
            assert answer["sentTo"] == mask_phone(phone)
        code = next_code(secret)
        assert (await verify(api, wrong["challenge"], code, "TOTP"))["__typename"] == "InvalidCode"
        assert (await verify(api, right["challenge"], code, "TOTP"))["__typename"] == "Session"
