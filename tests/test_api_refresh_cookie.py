"""Cookie mode (REFRESH_COOKIE=on, issue 13): the refresh token travels in an HttpOnly,
SameSite=Strict cookie on /graphql, never in the JSON; refreshSession and logout read it
when no argument is given; a cross-site request cannot use it.

The test client talks plain http to a Secure cookie, so its cookie jar would never send it
back: each request here sends the cookie it means to, by hand, as a browser on the page's
own site would."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest

from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone

COOKIE = "phonegate_refresh"
REFRESH_BY_COOKIE = f"""
mutation RefreshByCookie {{ refreshSession {{ {d.BASE_ERRORS} {d.SESSION_FIELDS} }} }}"""
SITE = "https://app.example"
FOREIGN = "https://evil.example"


@pytest.fixture
async def api(make_settings, start_app):
    async with start_app(make_settings(REFRESH_COOKIE="on", CORS_ORIGINS=SITE)) as api:
        api.http.cookies.clear()
        yield api


async def call(
    api, query: str, variables=None, *, cookie: str | None = None, token: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """(the single root field's value, the refresh cookie set: value and attributes)."""
    headers = {}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = await api.http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    api.http.cookies.clear()
    assert response.status_code == 200, response.text
    (value,) = response.json()["data"].values()
    return value, set_cookie(response)


def set_cookie(response) -> dict[str, Any]:
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        if COOKIE in parsed:
            morsel = parsed[COOKIE]
            return {"value": morsel.value, **{k: v for k, v in morsel.items() if v}}
    return {}


async def signed_up(api) -> tuple[dict[str, Any], dict[str, Any]]:
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    code = await api.sms.code(phone, "verify_signup")
    verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
    session, cookie = await call(api, d.VERIFY_PHONE, {"input": verify})
    assert session["__typename"] == "Session", session
    return session, cookie


async def test_a_session_puts_its_refresh_token_in_an_httponly_strict_cookie_not_the_json(api):
    # when
    session, cookie = await signed_up(api)
    login, login_cookie = await call(
        api,
        d.LOGIN,
        {"input": {"identifier": session["user"]["phone"], "password": STRONG_PASSWORD}},
    )
    # then
    for answer, set_ in ((session, cookie), (login, login_cookie)):
        assert answer["refreshToken"] is None and answer["accessToken"]
        assert set_["httponly"] and set_["secure"]  # APP_ENV=test: outside development
        assert set_["samesite"].lower() == "strict" and set_["path"] == "/graphql"
        assert 2_591_000 < int(set_["max-age"]) <= 2_592_000  # REFRESH_TOKEN_TTL_SECONDS
    assert cookie["value"] != login_cookie["value"]


async def test_refresh_without_an_argument_uses_the_cookie_and_renews_it(api):
    # given: a reload: the page has nothing but the cookie
    _, cookie = await signed_up(api)
    # when
    restored, renewed = await call(api, REFRESH_BY_COOKIE, cookie=cookie["value"])
    # then
    assert restored["__typename"] == "Session" and restored["refreshToken"] is None
    assert renewed["value"] and renewed["value"] != cookie["value"]
    me = await api.run(d.ME, token=restored["accessToken"])
    assert me["phone"] == restored["user"]["phone"]
    again, _ = await call(api, REFRESH_BY_COOKIE, cookie=renewed["value"])
    assert again["__typename"] == "Session"


async def test_refresh_without_argument_or_cookie_is_invalid_token(api):
    answer, _ = await call(api, REFRESH_BY_COOKIE)
    assert answer["__typename"] == "InvalidToken"


async def test_logout_without_an_argument_ends_the_cookie_session_and_clears_the_cookie(api):
    # given
    session, cookie = await signed_up(api)
    # when
    out, cleared = await call(api, d.LOGOUT, {}, cookie=cookie["value"])
    # then
    assert out["__typename"] == "LoggedOut"
    assert cleared["value"] == "" and int(cleared["max-age"]) == 0
    assert await api.run(d.ME, token=session["accessToken"]) is None
    after, _ = await call(api, REFRESH_BY_COOKIE, cookie=cookie["value"])
    assert after["__typename"] == "InvalidToken"


async def test_an_argument_still_wins_over_the_cookie(api):
    first, first_cookie = await signed_up(api)
    _, second_cookie = await signed_up(api)
    answer, _ = await call(
        api, d.REFRESH, {"token": first_cookie["value"]}, cookie=second_cookie["value"]
    )
    assert answer["user"]["phone"] == first["user"]["phone"]


async def test_without_cookie_mode_no_cookie_is_set_or_read(make_settings, start_app):
    async with start_app(make_settings()) as api:
        session, cookie = await signed_up(api)
        answer, _ = await call(api, REFRESH_BY_COOKIE, cookie=session["refreshToken"])
    assert session["refreshToken"] and cookie == {}
    assert answer["__typename"] == "InvalidToken"


async def test_in_development_the_cookie_is_not_secure(make_settings, start_app):
    async with start_app(make_settings(APP_ENV="development", REFRESH_COOKIE="on")) as api:
        _, cookie = await signed_up(api)
    assert cookie["httponly"] and "secure" not in cookie


# --- a foreign site cannot use the cookie ----------------------------------------------------


async def test_a_cross_site_preflight_is_refused_and_a_listed_origin_may_send_credentials(api):
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    foreign = await api.http.options("/graphql", headers={"origin": FOREIGN, **preflight})
    own = await api.http.options("/graphql", headers={"origin": SITE, **preflight})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    assert own.headers["access-control-allow-origin"] == SITE
    assert own.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
async def test_a_cross_site_simple_post_with_the_cookie_is_refused_and_uses_nothing(
    api, content_type
):
    # given: a foreign page makes the browser post a form (no preflight for these types),
    # and assume a browser that sent the cookie anyway (SameSite=Strict forbids it)
    _, cookie = await signed_up(api)
    # when
    forged = await api.http.post(
        "/graphql",
        content='{"query": "mutation { refreshSession { __typename } }"}',
        headers={
            "content-type": content_type,
            "origin": FOREIGN,
            "cookie": f"{COOKIE}={cookie['value']}",
        },
    )
    api.http.cookies.clear()
    # then: refused as not JSON, no cookie set, nothing readable by the foreign origin,
    # and the cookie's token was not used (it still rotates once)
    assert forged.status_code == 400
    assert set_cookie(forged) == {}
    assert "access-control-allow-origin" not in forged.headers
    still, _ = await call(api, REFRESH_BY_COOKIE, cookie=cookie["value"])
    assert still["__typename"] == "Session"


async def test_a_mutation_over_get_cannot_use_the_cookie(api):
    _, cookie = await signed_up(api)
    response = await api.http.get(
        "/graphql",
        params={"query": "mutation { refreshSession { __typename } }"},
        headers={"cookie": f"{COOKIE}={cookie['value']}", "origin": FOREIGN},
    )
    api.http.cookies.clear()
    assert response.status_code == 405 and set_cookie(response) == {}
    still, _ = await call(api, REFRESH_BY_COOKIE, cookie=cookie["value"])
    assert still["__typename"] == "Session"


async def test_revoking_the_current_session_clears_its_cookie(api):
    session, cookie = await signed_up(api)
    (own,) = (await api.run(d.SESSIONS, token=session["accessToken"]))["sessions"]
    answer, cleared = await call(
        api, d.REVOKE_SESSION, {"id": own["id"]}, token=session["accessToken"]
    )
    assert answer["__typename"] == "LoggedOut"
    assert cleared["value"] == "" and int(cleared["max-age"]) == 0
    after, _ = await call(api, REFRESH_BY_COOKIE, cookie=cookie["value"])
    assert after["__typename"] == "InvalidToken"
