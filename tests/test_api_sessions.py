"""Login, two-factor login, refresh rotation, logout and `me`."""

from __future__ import annotations

import pytest

from tests import documents as d
from tests.clock_support import moved_clock
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone


@pytest.fixture
def clock(monkeypatch):
    return moved_clock(monkeypatch)


async def login(api, identifier, password=STRONG_PASSWORD):
    return await api.run(d.LOGIN, {"input": {"identifier": identifier, "password": password}})


async def test_login_by_phone_in_any_format_or_by_username(api):
    phone = new_phone()
    await signup_verified(api, phone, username="Marta")
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    for identifier in (phone, national, "marta", "MARTA"):
        answer = await login(api, identifier)
        assert answer["__typename"] == "Session", identifier
        assert answer["user"]["phone"] == phone


async def test_unknown_phone_and_wrong_password_give_the_same_answer(api):
    phone = new_phone()
    await signup_verified(api, phone)
    wrong = await login(api, phone, "not the password at all")
    unknown = await login(api, new_phone())
    unknown_name = await login(api, "nobody_here")
    assert wrong == unknown == unknown_name
    assert wrong["__typename"] == "InvalidCredentials"


async def test_phone_not_verified_is_told_only_after_the_right_password(api):
    phone = new_phone()
    await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    assert (await login(api, phone, "wrong password here"))["__typename"] == "InvalidCredentials"
    assert (await login(api, phone))["__typename"] == "PhoneNotVerified"


async def test_login_refuses_empty_input(api):
    answer = await login(api, "   ")
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "identifier"
    answer = await login(api, new_phone(), "")
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "password"


async def test_me_is_null_without_a_valid_token(api):
    assert await api.run(d.ME) is None
    assert await api.run(d.ME, token="not-a-jwt") is None


async def test_refresh_rotates_and_a_reused_token_ends_the_session(api, clock):
    # given
    session = await signup_verified(api)
    first_refresh = session["refreshToken"]
    # when: reused after the grace (REFRESH_REUSE_GRACE_SECONDS, 10 s)
    rotated = await api.run(d.REFRESH, {"token": first_refresh})
    clock.advance(11)
    reused = await api.run(d.REFRESH, {"token": first_refresh})
    # then
    assert rotated["__typename"] == "Session" and rotated["refreshToken"] != first_refresh
    assert reused["__typename"] == "InvalidToken"
    # the reuse ended the whole family: the rotated token and its access token are dead
    assert (await api.run(d.REFRESH, {"token": rotated["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"
    assert await api.run(d.ME, token=rotated["accessToken"]) is None


async def test_refresh_with_garbage_is_invalid_token(api):
    assert (await api.run(d.REFRESH, {"token": "x" * 43}))["__typename"] == "InvalidToken"
    assert (await api.run(d.REFRESH, {"token": ""}))["__typename"] == "InvalidToken"


async def test_logout_ends_this_session_only(api):
    phone = new_phone()
    first = await signup_verified(api, phone)
    second = await login(api, phone)
    out = await api.run(d.LOGOUT, {}, token=first["accessToken"])
    assert out["__typename"] == "LoggedOut"
    assert await api.run(d.ME, token=first["accessToken"]) is None
    assert (await api.run(d.REFRESH, {"token": first["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"
    assert (await api.run(d.ME, token=second["accessToken"]))["phone"] == phone


async def test_logout_everywhere_ends_every_session(api):
    phone = new_phone()
    first = await signup_verified(api, phone)
    second = await login(api, phone)
    out = await api.run(d.LOGOUT, {"everywhere": True}, token=second["accessToken"])
    assert out["__typename"] == "LoggedOut"
    for s in (first, second):
        assert await api.run(d.ME, token=s["accessToken"]) is None
        assert (await api.run(d.REFRESH, {"token": s["refreshToken"]}))[
            "__typename"
        ] == "InvalidToken"


async def test_logout_without_credentials_is_not_authenticated(api):
    assert (await api.run(d.LOGOUT, {}))["__typename"] == "NotAuthenticated"
    out = await api.run(d.LOGOUT, {"refreshToken": "unknown"})
    assert out["__typename"] == "NotAuthenticated"


async def test_logout_with_only_the_refresh_token_ends_that_session(api):
    session = await signup_verified(api)
    out = await api.run(d.LOGOUT, {"refreshToken": session["refreshToken"]})
    assert out["__typename"] == "LoggedOut"
    assert await api.run(d.ME, token=session["accessToken"]) is None


async def enable_two_factor(api, session, enabled=True, password=STRONG_PASSWORD):
    variables = {"input": {"currentPassword": password, "enabled": enabled}}
    return await api.run(d.SET_TWO_FACTOR, variables, token=session["accessToken"])


async def test_two_factor_login_needs_the_sms_code(api):
    # given
    phone = new_phone()
    session = await signup_verified(api, phone)
    updated = await enable_two_factor(api, session)
    # when
    first = await login(api, phone)
    code = await api.sms.code(phone, "login_code")
    done = await api.run(d.VERIFY_LOGIN, {"input": {"challenge": first["challenge"], "code": code}})
    # then
    assert updated["__typename"] == "TwoFactorUpdated" and updated["user"]["twoFactorEnabled"]
    await api.sms.wait(phone, "two_factor_changed")
    assert first["__typename"] == "SecondFactorRequired"
    assert first["sentTo"] == f"+1******{phone[-4:]}"
    assert done["__typename"] == "Session" and done["user"]["phone"] == phone
    again = await api.run(
        d.VERIFY_LOGIN, {"input": {"challenge": first["challenge"], "code": code}}
    )
    assert again["__typename"] == "InvalidCode"


async def test_verify_login_with_an_unknown_challenge_is_invalid_token(api):
    answer = await api.run(d.VERIFY_LOGIN, {"input": {"challenge": "nope", "code": "123456"}})
    assert answer["__typename"] == "InvalidToken"


async def test_verify_login_wrong_codes_lock_the_challenge(api):
    phone = new_phone()
    session = await signup_verified(api, phone)
    await enable_two_factor(api, session)
    first = await login(api, phone)
    code = await api.sms.code(phone, "login_code")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [
        (
            await api.run(
                d.VERIFY_LOGIN, {"input": {"challenge": first["challenge"], "code": wrong}}
            )
        )["__typename"]
        for _ in range(5)
    ]
    final = await api.run(
        d.VERIFY_LOGIN, {"input": {"challenge": first["challenge"], "code": code}}
    )
    assert answers == ["InvalidCode"] * 4 + ["TooManyAttempts"]
    assert final["__typename"] == "TooManyAttempts"


async def test_set_two_factor_needs_the_password_and_a_token(api):
    session = await signup_verified(api)
    wrong = await enable_two_factor(api, session, password="not my password at all")
    anonymous = await api.run(
        d.SET_TWO_FACTOR, {"input": {"currentPassword": "x", "enabled": True}}
    )
    assert wrong["__typename"] == "InvalidCredentials"
    assert anonymous["__typename"] == "NotAuthenticated"
    assert (await api.run(d.ME, token=session["accessToken"]))["twoFactorEnabled"] is False


async def test_repeated_failed_logins_step_the_account_up_to_an_sms_code(api):
    phone = new_phone()
    await signup_verified(api, phone)
    answers = [(await login(api, phone, f"wrong guess {i}"))["__typename"] for i in range(7)]
    assert answers[:5] == ["InvalidCredentials"] * 5
    assert answers[5:] == ["SecondFactorRequired"] * 2  # decoys: nothing sent
    assert api.sms.to(phone, "login_code") == []
    stepped_up = await login(api, phone)  # the right password: a real code
    assert stepped_up["__typename"] == "SecondFactorRequired"
    code = await api.sms.code(phone, "login_code")
    session = await api.run(
        d.VERIFY_LOGIN, {"input": {"challenge": stepped_up["challenge"], "code": code}}
    )
    assert session["__typename"] == "Session"
