"""The attacker's suite, sessions (issue 11, item 5): a refresh token that is no longer current
(rotated, logged out, or from before a password change) ends nothing but its own session;
`logout` with it answers InvalidToken, `everywhere` or not."""

from __future__ import annotations

import pytest

from tests import documents as d
from tests.clock_support import moved_clock
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone


@pytest.fixture
def clock(monkeypatch):
    return moved_clock(monkeypatch)


async def login(api, phone, password=STRONG_PASSWORD):
    answer = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": password}})
    assert answer["__typename"] == "Session", answer
    return answer


async def alive(api, session):
    return await api.run(d.ME, token=session["accessToken"]) is not None


async def test_a_rotated_refresh_token_cannot_log_the_owner_out_everywhere(api):
    # given: the attacker copied the laptop's refresh token before the laptop rotated it
    phone = new_phone()
    laptop = await signup_verified(api, phone)
    phone_app = await login(api, phone)
    stolen = laptop["refreshToken"]
    rotated = await api.run(d.REFRESH, {"token": stolen})
    # when
    out = await api.run(d.LOGOUT, {"refreshToken": stolen, "everywhere": True})
    # then: the answer is InvalidToken and the owner's other session lives on
    assert rotated["__typename"] == "Session"
    assert out["__typename"] == "InvalidToken"
    assert await alive(api, phone_app)
    again = await api.run(d.REFRESH, {"token": phone_app["refreshToken"]})
    assert again["__typename"] == "Session"


async def test_a_logged_out_refresh_token_ends_nothing_more(api):
    # given
    phone = new_phone()
    first = await signup_verified(api, phone)
    second = await login(api, phone)
    assert (await api.run(d.LOGOUT, {"refreshToken": first["refreshToken"]}))[
        "__typename"
    ] == "LoggedOut"
    # when
    everywhere = await api.run(
        d.LOGOUT, {"refreshToken": first["refreshToken"], "everywhere": True}
    )
    once = await api.run(d.LOGOUT, {"refreshToken": first["refreshToken"]})
    # then
    assert everywhere["__typename"] == once["__typename"] == "InvalidToken"
    assert await alive(api, second)


async def test_a_refresh_token_from_before_a_password_change_cannot_end_later_sessions(api):
    # given: the owner changed the password after the attacker took a refresh token
    phone = new_phone()
    old = await signup_verified(api, phone)
    changed = await api.run(
        d.CHANGE_PASSWORD,
        {"input": {"currentPassword": STRONG_PASSWORD, "newPassword": OTHER_PASSWORD}},
        token=old["accessToken"],
    )
    after = await login(api, phone, OTHER_PASSWORD)
    # when
    out = await api.run(d.LOGOUT, {"refreshToken": old["refreshToken"], "everywhere": True})
    # then
    assert changed["__typename"] == "PasswordChanged"
    assert out["__typename"] == "InvalidToken"
    assert await alive(api, after) and await alive(api, changed["session"])


async def test_a_stale_refresh_token_beside_a_valid_access_token_is_refused(api):
    # given: a valid access token of one session, a rotated refresh token of another
    phone = new_phone()
    first = await signup_verified(api, phone)
    second = await login(api, phone)
    await api.run(d.REFRESH, {"token": first["refreshToken"]})
    # when
    out = await api.run(
        d.LOGOUT, {"refreshToken": first["refreshToken"]}, token=second["accessToken"]
    )
    # then: nothing is ended on the strength of the stale token
    assert out["__typename"] == "InvalidToken"
    assert await alive(api, second)


# --- issue 13: sessions you can see and end ---------------------------------------------------


async def own_session_ids(api, session):
    me = await api.run(d.SESSIONS, token=session["accessToken"])
    return [s["id"] for s in me["sessions"]]


async def test_another_account_session_id_is_answered_as_unknown_and_ends_nothing(api):
    # given: the attacker learnt the id of the victim's session (a shoulder, a log)
    victim = await signup_verified(api)
    attacker = await signup_verified(api)
    (victim_session,) = await own_session_ids(api, victim)
    # when
    theirs = await api.run(d.REVOKE_SESSION, {"id": victim_session}, token=attacker["accessToken"])
    unknown = await api.run(
        d.REVOKE_SESSION,
        {"id": "5f0c8a52-3f44-4c3e-9a55-0a9d2b1c7e11"},
        token=attacker["accessToken"],
    )
    # then: the same answer as an unknown id; the victim's session and history are untouched
    assert theirs == unknown and theirs["__typename"] == "InvalidInput"
    assert await alive(api, victim)
    refreshed = await api.run(d.REFRESH, {"token": victim["refreshToken"]})
    assert refreshed["__typename"] == "Session"
    history = await api.run(d.ME_SECOND_FACTORS, token=refreshed["accessToken"])
    assert "session_revoked" not in [e["kind"] for e in history["securityEvents"]]


async def test_the_session_list_never_shows_another_account_sessions(api):
    # given: two accounts with two sessions each
    victim_phone, attacker_phone = new_phone(), new_phone()
    victim = await signup_verified(api, victim_phone)
    await login(api, victim_phone)
    attacker = await signup_verified(api, attacker_phone)
    await login(api, attacker_phone)
    # when: the attacker lists sessions, with `me` and inside a fresh Session's user
    listed = await own_session_ids(api, attacker)
    in_session = await api.run(
        """mutation($t: String!) { refreshSession(refreshToken: $t) {
             ... on Session { user { sessions { id } } } } }""",
        {"t": attacker["refreshToken"]},
    )
    # then: only the attacker's two
    victim_ids = set(await own_session_ids(api, victim))
    assert len(listed) == 2 and not victim_ids & set(listed)
    assert {s["id"] for s in in_session["user"]["sessions"]} == set(listed)


async def test_revoke_other_sessions_ends_nothing_of_another_account(api):
    victim = await signup_verified(api)
    attacker = await signup_verified(api)
    answer = await api.run(d.REVOKE_OTHER_SESSIONS, token=attacker["accessToken"])
    assert answer["__typename"] == "LoggedOut"
    assert await alive(api, victim) and await alive(api, attacker)


# --- issue 13: the refresh grace cannot be abused ---------------------------------------------


async def test_after_logout_the_grace_does_not_bring_the_session_back(api):
    # given: the attacker copied the refresh token; the owner refreshed, then logged out
    session = await signup_verified(api)
    stolen = session["refreshToken"]
    rotated = await api.run(d.REFRESH, {"token": stolen})
    out = await api.run(d.LOGOUT, {}, token=rotated["accessToken"])
    assert out["__typename"] == "LoggedOut"
    # when: within the grace, the attacker presents the old token
    forked = await api.run(d.REFRESH, {"token": stolen})
    # then: nothing: no tokens, and the owner's session stays ended
    assert forked["__typename"] == "InvalidToken"
    assert await api.run(d.ME, token=rotated["accessToken"]) is None
    assert (await api.run(d.REFRESH, {"token": rotated["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"


async def test_after_revoke_session_the_grace_does_not_bring_the_session_back(api):
    # given: a lost laptop's session, just refreshed, ended from the phone
    phone = new_phone()
    laptop = await signup_verified(api, phone)
    handset = await login(api, phone)
    rotated = await api.run(d.REFRESH, {"token": laptop["refreshToken"]})
    (laptop_id,) = [
        s["id"]
        for s in (await api.run(d.SESSIONS, token=rotated["accessToken"]))["sessions"]
        if s["current"]
    ]
    revoked = await api.run(d.REVOKE_SESSION, {"id": laptop_id}, token=handset["accessToken"])
    assert revoked["__typename"] == "LoggedOut"
    # when: whoever has the laptop presents either token within the grace
    old = await api.run(d.REFRESH, {"token": laptop["refreshToken"]})
    new = await api.run(d.REFRESH, {"token": rotated["refreshToken"]})
    # then
    assert old["__typename"] == new["__typename"] == "InvalidToken"
    assert await api.run(d.ME, token=rotated["accessToken"]) is None


async def test_a_thief_racing_the_owner_within_the_grace_gets_no_session_of_their_own(api, clock):
    # given: the owner refreshed; the thief replays the copied token within the grace
    session = await signup_verified(api)
    stolen = session["refreshToken"]
    owner = await api.run(d.REFRESH, {"token": stolen})
    thief = await api.run(d.REFRESH, {"token": stolen})
    # then: the thief is on the owner's chain, not a fork: one session, one next token
    assert thief["refreshToken"] == owner["refreshToken"]
    listed = (await api.run(d.SESSIONS, token=owner["accessToken"]))["sessions"]
    assert len(listed) == 1
    # and when the owner moves on, the thief's copy is a reuse that ends the session
    moved_on = await api.run(d.REFRESH, {"token": owner["refreshToken"]})
    clock.advance(11)
    replay = await api.run(d.REFRESH, {"token": thief["refreshToken"]})
    assert replay["__typename"] == "InvalidToken"
    assert await api.run(d.ME, token=moved_on["accessToken"]) is None


async def test_a_stolen_old_refresh_token_replayed_after_the_grace_ends_the_session(api, clock):
    # given: the owner refreshed long ago (past the grace)
    session = await signup_verified(api)
    stolen = session["refreshToken"]
    owner = await api.run(d.REFRESH, {"token": stolen})
    clock.advance(60)
    # when
    replay = await api.run(d.REFRESH, {"token": stolen})
    # then: nothing for the thief, and the owner's session ends (reuse detected)
    assert replay["__typename"] == "InvalidToken"
    assert await api.run(d.ME, token=owner["accessToken"]) is None
    assert (await api.run(d.REFRESH, {"token": owner["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"


async def test_a_foreign_site_cannot_make_the_browser_spend_or_read_the_refresh_cookie(
    make_settings, start_app
):
    # given: cookie mode; the victim's browser holds the refresh cookie
    settings = make_settings(REFRESH_COOKIE="on", CORS_ORIGINS="https://app.example")
    async with start_app(settings) as api:
        session = await signup_verified(api)
        api.http.cookies.clear()
        login_answer = await api.http.post(
            "/graphql",
            json={
                "query": d.LOGIN,
                "variables": {
                    "input": {"identifier": session["user"]["phone"], "password": STRONG_PASSWORD}
                },
            },
        )
        set_cookie = login_answer.headers["set-cookie"]
        cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
        api.http.cookies.clear()
        forged = {
            "origin": "https://evil.example",
            "cookie": f"phonegate_refresh={cookie}",
        }
        # when: a form POST (no preflight), and the preflight a JSON POST would need
        form = await api.http.post(
            "/graphql",
            content="query=mutation%20%7B%20logout%20%7B%20__typename%20%7D%20%7D",
            headers={**forged, "content-type": "application/x-www-form-urlencoded"},
        )
        preflight = await api.http.options(
            "/graphql",
            headers={
                "origin": "https://evil.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        api.http.cookies.clear()
        # then: both refused, and the cookie's session is untouched: it still refreshes
        assert form.status_code == 400 and "set-cookie" not in form.headers
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        assert "SameSite=strict" in set_cookie or "SameSite=Strict" in set_cookie
        still = await api.http.post(
            "/graphql",
            json={"query": "mutation { refreshSession { __typename } }"},
            headers={"cookie": f"phonegate_refresh={cookie}"},
        )
        assert still.json()["data"]["refreshSession"]["__typename"] == "Session"
