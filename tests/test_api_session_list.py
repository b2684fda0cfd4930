"""Sessions you can see and end (issue 13): `me { sessions }`, `revokeSession`,
`revokeOtherSessions`."""

from __future__ import annotations

import asyncio

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone

LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
PHONE_APP = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1"


async def login(api, phone, user_agent):
    answer = await api.run(
        d.LOGIN,
        {"input": {"identifier": phone, "password": STRONG_PASSWORD}},
        headers={"User-Agent": user_agent},
    )
    assert answer["__typename"] == "Session", answer
    return answer


async def sessions_of(api, session):
    me = await api.run(d.SESSIONS, token=session["accessToken"])
    return None if me is None else me["sessions"]


async def test_sessions_list_each_login_with_its_user_agent_and_mark_the_current_one(api):
    # given
    phone = new_phone()
    await signup_verified(api, phone)
    laptop = await login(api, phone, LAPTOP)
    phone_app = await login(api, phone, PHONE_APP + " " + "x" * 300)
    # when
    listed = await sessions_of(api, laptop)
    # then: the signup's session and both logins, most recently used first
    assert len(listed) == 3
    agents = [s["userAgent"] for s in listed]
    assert agents[0] == (PHONE_APP + " " + "x" * 300)[:200]
    assert agents[1] == LAPTOP
    assert [s["current"] for s in listed] == [False, True, False]
    assert all(s["ipAddress"] for s in listed)
    assert all(s["lastUsedAt"] >= s["createdAt"] for s in listed)
    assert [s["current"] for s in await sessions_of(api, phone_app)] == [True, False, False]


async def test_a_refresh_moves_the_session_to_the_top_with_its_new_use(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    await login(api, phone, LAPTOP)
    # when
    rotated = await api.run(d.REFRESH, {"token": first["refreshToken"]})
    # then
    listed = await sessions_of(api, rotated)
    assert listed[0]["current"] and listed[0]["lastUsedAt"] > listed[0]["createdAt"]


async def test_revoke_session_ends_exactly_that_session(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    laptop = await login(api, phone, LAPTOP)
    phone_app = await login(api, phone, PHONE_APP)
    laptop_id = next(s["id"] for s in await sessions_of(api, laptop) if s["current"])
    await asyncio.sleep(0.3)  # the signup's SMS and notices have gone
    sms_before = len(api.sms.to(phone))
    # when
    answer = await api.run(d.REVOKE_SESSION, {"id": laptop_id}, token=first["accessToken"])
    # then: the laptop's tokens fail on their next request, the others live on
    assert answer["__typename"] == "LoggedOut"
    assert await api.run(d.ME, token=laptop["accessToken"]) is None
    refreshed = await api.run(d.REFRESH, {"token": laptop["refreshToken"]})
    assert refreshed["__typename"] == "InvalidToken"
    remaining = await sessions_of(api, first)
    assert laptop_id not in [s["id"] for s in remaining] and len(remaining) == 2
    assert await api.run(d.ME, token=phone_app["accessToken"]) is not None
    # no SMS; one session_revoked event in the account's history
    await asyncio.sleep(0.3)  # a notice, if one were queued, would have gone by now
    assert len(api.sms.to(phone)) == sms_before
    history = await api.run(d.ME_SECOND_FACTORS, token=first["accessToken"])
    assert [e["kind"] for e in history["securityEvents"]].count("session_revoked") == 1


async def test_revoke_session_may_end_the_caller_own_session(api):
    session = await signup_verified(api)
    (own,) = await sessions_of(api, session)
    answer = await api.run(d.REVOKE_SESSION, {"id": own["id"]}, token=session["accessToken"])
    assert answer["__typename"] == "LoggedOut"
    assert await api.run(d.ME, token=session["accessToken"]) is None


async def test_revoke_session_with_an_unknown_or_malformed_or_ended_id_is_invalid_input(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    laptop = await login(api, phone, LAPTOP)
    laptop_id = next(s["id"] for s in await sessions_of(api, laptop) if s["current"])
    await api.run(d.LOGOUT, {}, token=laptop["accessToken"])
    # when
    answers = [
        await api.run(d.REVOKE_SESSION, {"id": raw}, token=first["accessToken"])
        for raw in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", laptop_id)
    ]
    # then
    assert all(a == answers[0] for a in answers)
    assert answers[0]["__typename"] == "InvalidInput" and answers[0]["field"] == "id"
    assert await api.run(d.ME, token=first["accessToken"]) is not None


async def test_revoke_other_sessions_keeps_only_the_caller(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    laptop = await login(api, phone, LAPTOP)
    phone_app = await login(api, phone, PHONE_APP)
    # when
    answer = await api.run(d.REVOKE_OTHER_SESSIONS, token=phone_app["accessToken"])
    # then
    assert answer["__typename"] == "LoggedOut"
    for ended in (first, laptop):
        assert await api.run(d.ME, token=ended["accessToken"]) is None
        assert (await api.run(d.REFRESH, {"token": ended["refreshToken"]}))[
            "__typename"
        ] == "InvalidToken"
    listed = await sessions_of(api, phone_app)
    assert [s["current"] for s in listed] == [True]


async def test_session_mutations_need_an_access_token(api):
    session = await signup_verified(api)
    (own,) = await sessions_of(api, session)
    one = await api.run(d.REVOKE_SESSION, {"id": own["id"]})
    others = await api.run(d.REVOKE_OTHER_SESSIONS)
    assert one["__typename"] == others["__typename"] == "NotAuthenticated"
    assert await api.run(d.ME, token=session["accessToken"]) is not None
