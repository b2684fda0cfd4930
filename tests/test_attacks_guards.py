"""The attacker's suite: behaviour no test guarded before issue 11 (each test below fails
when its guard is removed from the code)."""

from __future__ import annotations

import time

import pyotp

from models import User
from tests import documents as d
from tests.attack_support import NO_WAIT, PROXY, client, request_reset, reset
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone
from tests.test_api_second_factors import a_wrong_code, enrol


async def test_a_password_reset_ends_a_pending_two_factor_login(make_settings, start_app):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        # given an account with two-factor login, and a login waiting for its code (the
        # thief knows the old password and reads the code off the phone later)
        phone = new_phone()
        session = await signup_verified(api, phone)
        await api.run(
            d.SET_TWO_FACTOR,
            {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}},
            token=session["accessToken"],
        )
        login = {"input": {"identifier": phone, "password": STRONG_PASSWORD}}
        pending = await api.run(d.LOGIN, login, headers=client())
        login_code = await api.sms.code(phone, "login_code")
        # when the owner resets the password
        sent = await request_reset(api, phone)
        code = await api.sms.code(phone, "reset_password")
        done = await reset(api, phone, sent["challenge"], code, OTHER_PASSWORD)
        # then the waiting login is over
        late = await api.run(
            d.VERIFY_LOGIN,
            {"input": {"challenge": pending["challenge"], "code": login_code}},
            headers=client(),
        )
        assert done["__typename"] == "PasswordReset"
        assert late["__typename"] != "Session"


async def test_a_password_reset_ends_a_pending_identity_change(make_settings, start_app):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone, new = new_phone(), new_phone()
        session = await signup_verified(api, phone)
        await api.sms.wait(phone, "signup_verified")  # sent: a later notice is not merged in
        token = session["accessToken"]
        change = {"currentPassword": STRONG_PASSWORD, "phone": new}
        pending = await api.run(d.CHANGE_IDENTITY, {"input": change}, token=token)
        change_code = await api.sms.code(new, "identity_change")
        notice = await api.sms.wait(phone, "identity_change_requested")
        sent = await request_reset(api, phone)
        code = await api.sms.code(phone, "reset_password")
        await reset(api, phone, sent["challenge"], code, OTHER_PASSWORD)
        relogin = await api.run(
            d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}}
        )
        late = await api.run(
            d.CONFIRM_IDENTITY, {"code": change_code}, token=relogin["accessToken"]
        )
        me = await api.run(d.ME, token=relogin["accessToken"])
        assert pending["__typename"] == "IdentityChangePending"
        assert change_code not in notice.body  # the old phone is told, without the secret
        assert late["__typename"] != "IdentityChanged"
        assert me["phone"] == phone and me["pendingPhone"] is None


async def test_an_access_token_with_a_stale_session_version_is_refused(api):
    # given a valid access token (its signature is right and its session still open)
    phone = new_phone()
    session = await signup_verified(api, phone)
    assert (await api.run(d.ME, token=session["accessToken"]))["phone"] == phone
    # when only the account's session version moves on (what every "end all sessions" does
    # besides revoking the sessions: here alone, so that only the version check can refuse)
    await User.filter(phone=phone).update(session_version=5)
    # then the token stops working
    assert await api.run(d.ME, token=session["accessToken"]) is None


async def test_an_accounts_day_of_failures_caps_authenticator_guesses_at_verify_login(
    make_settings, start_app
):
    # An attacker who knows the password can open challenge after challenge (five guesses
    # each) from fresh addresses; only the account's day of failures bounds the guesses at
    # a six-digit authenticator code over the day.
    settings = make_settings(RATE_LIMITS="failures_per_account=3/day", **NO_WAIT)
    async with start_app(settings, client=PROXY) as api:
        # given an account with the authenticator app on
        phone = new_phone()
        session = await signup_verified(api, phone)
        secret, _ = await enrol(api, session)
        wrong = a_wrong_code(secret)

        async def guess(code: str) -> str:
            step_up = await api.run(
                d.LOGIN_METHODS,
                {"input": {"identifier": phone, "password": STRONG_PASSWORD}},
                headers=client(),
            )
            assert step_up["__typename"] == "SecondFactorRequired", step_up
            challenge = step_up["challenge"]
            variables = {"input": {"challenge": challenge, "code": code, "method": "TOTP"}}
            answer = await api.run(d.VERIFY_LOGIN, variables, headers=client())
            return str(answer["__typename"])

        # when three wrong codes, each on a challenge of its own, use up the day
        assert [await guess(wrong) for _ in range(3)] == ["InvalidCode"] * 3
        # then even the right code gets no session for the rest of the day
        # (the next step's code: enrolling used up the current one)
        assert await guess(pyotp.TOTP(secret).at(time.time() + 30)) == "RateLimited"
