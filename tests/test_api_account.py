"""Password change and account deletion by a logged-in user."""

from __future__ import annotations

from models import User
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone


async def change_password(api, session, current=STRONG_PASSWORD, new=OTHER_PASSWORD):
    variables = {"input": {"currentPassword": current, "newPassword": new}}
    return await api.run(d.CHANGE_PASSWORD, variables, token=session["accessToken"])


async def test_change_password_gives_a_fresh_session_and_ends_the_others(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    other = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}})
    # when
    changed = await change_password(api, first)
    # then
    assert changed["__typename"] == "PasswordChanged"
    fresh = changed["session"]
    assert (await api.run(d.ME, token=fresh["accessToken"]))["phone"] == phone
    for old in (first, other):
        assert await api.run(d.ME, token=old["accessToken"]) is None
        assert (await api.run(d.REFRESH, {"token": old["refreshToken"]}))[
            "__typename"
        ] == "InvalidToken"
    notice = await api.sms.wait(phone, "password_changed")
    assert OTHER_PASSWORD not in notice.body
    login = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
    assert login["__typename"] == "Session"


async def test_change_password_refusals(api):
    session = await signup_verified(api)
    wrong = await change_password(api, session, current="definitely not it")
    weak = await change_password(api, session, new="12345678")
    anonymous = await api.run(
        d.CHANGE_PASSWORD, {"input": {"currentPassword": "x", "newPassword": "y"}}
    )
    assert wrong["__typename"] == "InvalidCredentials"
    assert weak["__typename"] == "WeakPassword" and weak["message"]
    assert anonymous["__typename"] == "NotAuthenticated"
    assert (await api.run(d.ME, token=session["accessToken"])) is not None


async def test_aliased_password_changes_in_one_request_use_the_old_session_once(api):
    session = await signup_verified(api)
    document = """
    mutation Twice($a: ChangePasswordInput!, $b: ChangePasswordInput!) {
      first: changePassword(input: $a) { __typename }
      second: changePassword(input: $b) { __typename }
    }"""
    data = await api.post(
        document,
        {
            "a": {"currentPassword": STRONG_PASSWORD, "newPassword": OTHER_PASSWORD},
            "b": {"currentPassword": OTHER_PASSWORD, "newPassword": "quartz violin meadow 9"},
        },
        token=session["accessToken"],
    )
    assert data["first"]["__typename"] == "PasswordChanged"
    assert data["second"]["__typename"] == "NotAuthenticated"


async def test_delete_account_removes_it_and_every_session(api):
    phone = new_phone()
    session = await signup_verified(api, phone, username="Leaving_Soon")
    wrong = await api.run(
        d.DELETE_ACCOUNT,
        {"input": {"currentPassword": "nope nope nope"}},
        token=session["accessToken"],
    )
    assert wrong["__typename"] == "InvalidCredentials"
    gone = await api.run(
        d.DELETE_ACCOUNT,
        {"input": {"currentPassword": STRONG_PASSWORD}},
        token=session["accessToken"],
    )
    assert gone["__typename"] == "AccountDeleted"
    assert await User.filter(phone=phone).count() == 0
    assert await api.run(d.ME, token=session["accessToken"]) is None
    assert (await api.run(d.REFRESH, {"token": session["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"
    await api.sms.wait(phone, "account_deleted")
    assert await api.run(d.USERNAME_AVAILABLE, {"u": "leaving_soon"}) is True
    again = await api.run(
        d.DELETE_ACCOUNT,
        {"input": {"currentPassword": STRONG_PASSWORD}},
        token=session["accessToken"],
    )
    assert again["__typename"] == "NotAuthenticated"


async def test_wrong_current_passwords_meet_the_account_password_waits(api):
    session = await signup_verified(api)
    token = session["accessToken"]
    answers = [
        (
            await api.run(
                d.SET_TWO_FACTOR,
                {"input": {"currentPassword": f"wrong {i} xyz", "enabled": True}},
                token=token,
            )
        )["__typename"]
        for i in range(6)
    ]
    assert answers[:5] == ["InvalidCredentials"] * 5
    assert answers[5] == "RateLimited"
