"""Changing phone or username, confirmed by a code."""

from __future__ import annotations

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone


async def change(api, session, *, phone=None, username=None, password=STRONG_PASSWORD):
    variables = {"input": {"currentPassword": password, "phone": phone, "username": username}}
    return await api.run(d.CHANGE_IDENTITY, variables, token=session["accessToken"])


async def confirm(api, session, code):
    return await api.run(d.CONFIRM_IDENTITY, {"code": code}, token=session["accessToken"])


async def test_phone_change_sends_the_code_to_the_new_phone_and_applies_on_confirm(api):
    # given
    old, new = new_phone(), new_phone()
    session = await signup_verified(api, old)
    other = await api.run(d.LOGIN, {"input": {"identifier": old, "password": STRONG_PASSWORD}})
    # when
    pending = await change(api, session, phone=new)
    me_before = await api.run(d.ME, token=session["accessToken"])
    code = await api.sms.code(new, "identity_change")
    changed = await confirm(api, session, code)
    # then
    assert pending["__typename"] == "IdentityChangePending"
    assert pending["sentTo"] == f"+1******{new[-4:]}"
    assert me_before["phone"] == old and me_before["pendingPhone"] == new
    assert changed["__typename"] == "IdentityChanged"
    assert changed["user"]["phone"] == new and changed["user"]["pendingPhone"] is None
    notice = await api.sms.wait(old, "identity_changed")
    assert code not in notice.body
    assert api.sms.to(old, "identity_change") == []
    # the caller keeps its session; other sessions end
    assert (await api.run(d.ME, token=session["accessToken"]))["phone"] == new
    assert await api.run(d.ME, token=other["accessToken"]) is None
    login_new = await api.run(d.LOGIN, {"input": {"identifier": new, "password": STRONG_PASSWORD}})
    login_old = await api.run(d.LOGIN, {"input": {"identifier": old, "password": STRONG_PASSWORD}})
    assert login_new["__typename"] == "Session" and login_old["__typename"] == "InvalidCredentials"


async def test_username_change_sends_the_code_to_the_current_phone(api):
    phone = new_phone()
    session = await signup_verified(api, phone, username="Before")
    pending = await change(api, session, username="After")
    code = await api.sms.code(phone, "identity_change")
    changed = await confirm(api, session, code)
    assert pending["sentTo"] == f"+1******{phone[-4:]}"
    assert changed["__typename"] == "IdentityChanged" and changed["user"]["username"] == "After"
    assert await api.run(d.USERNAME_AVAILABLE, {"u": "before"}) is True


async def test_taken_phone_or_username_is_refused(api):
    await signup_verified(api, (taken_phone := new_phone()), username="Holder")
    session = await signup_verified(api)
    assert (await change(api, session, phone=taken_phone))["__typename"] == "PhoneTaken"
    assert (await change(api, session, username="HOLDER"))["__typename"] == "UsernameTaken"


async def test_a_phone_taken_between_request_and_confirm_is_refused_and_nothing_changes(api):
    # given
    mine, wanted = new_phone(), new_phone()
    session = await signup_verified(api, mine)
    await change(api, session, phone=wanted)
    code = await api.sms.code(wanted, "identity_change")
    # when somebody verifies that phone first
    await signup_verified(api, wanted)
    answer = await confirm(api, session, code)
    # then
    assert answer["__typename"] == "PhoneTaken"
    assert (await api.run(d.ME, token=session["accessToken"]))["phone"] == mine


async def test_identity_change_refusals(api):
    session = await signup_verified(api)
    wrong_password = await change(api, session, username="Someone", password="not it at all")
    nothing = await change(api, session)
    bad_phone = await change(api, session, phone="123")
    bad_name = await change(api, session, username="x")
    anonymous = await api.run(
        d.CHANGE_IDENTITY, {"input": {"currentPassword": "x", "username": "abc"}}
    )
    no_pending = await confirm(api, session, "123456")
    anonymous_confirm = await api.run(d.CONFIRM_IDENTITY, {"code": "123456"})
    assert wrong_password["__typename"] == "InvalidCredentials"
    assert nothing["__typename"] == "InvalidInput"
    assert bad_phone["__typename"] == "InvalidInput" and bad_phone["field"] == "phone"
    assert bad_name["__typename"] == "InvalidInput" and bad_name["field"] == "username"
    assert anonymous["__typename"] == "NotAuthenticated"
    assert no_pending["__typename"] == "InvalidCode"
    assert anonymous_confirm["__typename"] == "NotAuthenticated"


async def test_confirm_with_wrong_codes_locks_and_expired_code_is_refused(make_settings, start_app):
    async with start_app(make_settings(VERIFICATION_CODE_TTL_SECONDS="1")) as api:
        session = await signup_verified(api)
        new = new_phone()
        await change(api, session, phone=new)
        code = await api.sms.code(new, "identity_change")
        import asyncio

        await asyncio.sleep(1.2)
        assert (await confirm(api, session, code))["__typename"] == "CodeExpired"
    async with start_app(make_settings()) as api:
        session = await signup_verified(api)
        new = new_phone()
        await change(api, session, phone=new)
        code = await api.sms.code(new, "identity_change")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [(await confirm(api, session, wrong))["__typename"] for _ in range(5)]
        assert answers == ["InvalidCode"] * 4 + ["TooManyAttempts"]
        assert (await confirm(api, session, code))["__typename"] == "TooManyAttempts"


async def test_an_unverified_signup_of_the_new_phone_does_not_block_the_change(api):
    session = await signup_verified(api)
    squatted = new_phone()
    await api.run(d.SIGNUP, {"input": {"phone": squatted, "password": STRONG_PASSWORD}})
    pending = await change(api, session, phone=squatted)
    code = await api.sms.code(squatted, "identity_change")
    changed = await confirm(api, session, code)
    assert pending["__typename"] == "IdentityChangePending"
    assert changed["__typename"] == "IdentityChanged" and changed["user"]["phone"] == squatted
