"""The refusals not produced elsewhere: each result union's remaining members."""

from __future__ import annotations

import asyncio

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone

TIGHT = "verify_per_client=2/minute,account_ops=2/minute,sms_per_client=1/minute"


async def test_signup_beyond_the_client_budget_is_rate_limited(make_settings, start_app):
    async with start_app(make_settings(RATE_LIMITS="sms_per_client=2/minute")) as api:
        answers = [
            await api.run(d.SIGNUP, {"input": {"phone": new_phone(), "password": STRONG_PASSWORD}})
            for _ in range(3)
        ]
        assert [a["__typename"] for a in answers] == ["VerificationSent"] * 2 + ["RateLimited"]
        assert 1 <= answers[-1]["retryAfterSeconds"] <= 60
        assert len(api.sms.messages) <= 2


async def test_resend_refuses_an_invalid_phone(api):
    answer = await api.run(d.RESEND, {"phone": "+1 (000) 000", "challenge": "c"})
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "phone"


async def test_code_guesses_beyond_the_client_budget_are_rate_limited(make_settings, start_app):
    async with start_app(make_settings(RATE_LIMITS=TIGHT)) as api:
        phone = new_phone()
        verify = [
            (
                await api.run(
                    d.VERIFY_PHONE, {"input": {"phone": phone, "challenge": "c", "code": "123456"}}
                )
            )["__typename"]
            for _ in range(3)
        ]
        login = await api.run(d.VERIFY_LOGIN, {"input": {"challenge": "c", "code": "123456"}})
        reset = await api.run(
            d.RESET_PASSWORD,
            {
                "input": {
                    "phone": phone,
                    "challenge": "c",
                    "code": "123456",
                    "newPassword": OTHER_PASSWORD,
                }
            },
        )
        assert verify == ["InvalidCode", "InvalidCode", "RateLimited"]
        assert login["__typename"] == "RateLimited"
        assert reset["__typename"] == "RateLimited"


async def test_account_operations_beyond_the_budget_are_rate_limited(make_settings, start_app):
    async with start_app(make_settings(RATE_LIMITS="account_ops=2/minute")) as api:
        session = await signup_verified(api)
        token = session["accessToken"]
        two_factor = {"input": {"currentPassword": STRONG_PASSWORD, "enabled": False}}
        first = [
            (await api.run(d.SET_TWO_FACTOR, two_factor, token=token))["__typename"]
            for _ in range(3)
        ]
        change = await api.run(
            d.CHANGE_PASSWORD,
            {"input": {"currentPassword": STRONG_PASSWORD, "newPassword": OTHER_PASSWORD}},
            token=token,
        )
        identity = await api.run(
            d.CHANGE_IDENTITY,
            {"input": {"currentPassword": STRONG_PASSWORD, "username": "Newname"}},
            token=token,
        )
        assert first == ["TwoFactorUpdated", "TwoFactorUpdated", "RateLimited"]
        assert change["__typename"] == "RateLimited" and identity["__typename"] == "RateLimited"


async def test_confirm_identity_beyond_the_client_budget_is_rate_limited(make_settings, start_app):
    async with start_app(make_settings(RATE_LIMITS="verify_per_client=1/minute")) as api:
        session = await signup_verified(api)  # verifyPhone spends the one guess
        answer = await api.run(d.CONFIRM_IDENTITY, {"code": "123456"}, token=session["accessToken"])
        assert answer["__typename"] == "RateLimited"


async def test_expired_login_code_is_code_expired(make_settings, start_app):
    async with start_app(make_settings(VERIFICATION_CODE_TTL_SECONDS="1")) as api:
        phone = new_phone()
        session = await signup_verified(api, phone)
        await api.run(
            d.SET_TWO_FACTOR,
            {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}},
            token=session["accessToken"],
        )
        first = await api.run(
            d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}}
        )
        code = await api.sms.code(phone, "login_code")
        await asyncio.sleep(1.2)
        answer = await api.run(
            d.VERIFY_LOGIN, {"input": {"challenge": first["challenge"], "code": code}}
        )
        assert answer["__typename"] == "CodeExpired"


async def test_a_username_taken_between_request_and_confirm_is_refused(api):
    phone = new_phone()
    session = await signup_verified(api, phone)
    await api.run(
        d.CHANGE_IDENTITY,
        {"input": {"currentPassword": STRONG_PASSWORD, "username": "Contested"}},
        token=session["accessToken"],
    )
    code = await api.sms.code(phone, "identity_change")
    await signup_verified(api, username="contested")
    answer = await api.run(d.CONFIRM_IDENTITY, {"code": code}, token=session["accessToken"])
    assert answer["__typename"] == "UsernameTaken"
    assert (await api.run(d.ME, token=session["accessToken"]))["username"] is None
