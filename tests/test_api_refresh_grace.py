"""Refresh done right (issue 13): the reuse grace (two tabs refreshing at once), the idle
limit (REFRESH_TOKEN_TTL_SECONDS) and the session's maximum age (SESSION_MAX_AGE_SECONDS)."""

from __future__ import annotations

import asyncio

import pytest

from tests import documents as d
from tests.clock_support import moved_clock
from tests.conftest import signup_verified

DAY = 86_400


@pytest.fixture
def clock(monkeypatch):
    return moved_clock(monkeypatch)


async def refresh(api, token):
    return await api.run(d.REFRESH, {"token": token})


async def test_two_concurrent_refreshes_of_one_token_both_succeed_and_the_session_lives_on(api):
    # given
    session = await signup_verified(api)
    # when: two tabs refresh with the same token at the same moment
    first, second = await asyncio.gather(
        refresh(api, session["refreshToken"]), refresh(api, session["refreshToken"])
    )
    # then: both are logged in, on one chain (the same successor)
    assert first["__typename"] == second["__typename"] == "Session", (first, second)
    assert first["refreshToken"] == second["refreshToken"] != session["refreshToken"]
    for tab in (first, second):
        assert (await api.run(d.ME, token=tab["accessToken"]))["phone"] == tab["user"]["phone"]
    following = await refresh(api, first["refreshToken"])
    assert following["__typename"] == "Session"
    assert await api.run(d.ME, token=following["accessToken"]) is not None


async def test_a_token_presented_again_within_the_grace_answers_the_same_successor(api):
    session = await signup_verified(api)
    rotated = await refresh(api, session["refreshToken"])
    again = await refresh(api, session["refreshToken"])
    assert again["__typename"] == "Session"
    assert again["refreshToken"] == rotated["refreshToken"]
    assert await api.run(d.ME, token=again["accessToken"]) is not None


async def test_within_the_grace_an_old_token_follows_the_chain_to_its_newest_token(api):
    # given: one tab rotated twice in quick succession
    session = await signup_verified(api)
    once = await refresh(api, session["refreshToken"])
    twice = await refresh(api, once["refreshToken"])
    # when: the other tab, still on the first token, refreshes
    late = await refresh(api, session["refreshToken"])
    # then: it lands on the newest token, which still works once
    assert late["refreshToken"] == twice["refreshToken"]
    assert (await refresh(api, late["refreshToken"]))["__typename"] == "Session"


async def test_reuse_after_the_grace_ends_the_session(api, clock):
    # given
    session = await signup_verified(api)
    rotated = await refresh(api, session["refreshToken"])
    # when
    clock.advance(11)
    reused = await refresh(api, session["refreshToken"])
    # then
    assert reused["__typename"] == "InvalidToken"
    assert await api.run(d.ME, token=rotated["accessToken"]) is None
    assert (await refresh(api, rotated["refreshToken"]))["__typename"] == "InvalidToken"


async def test_with_no_grace_a_second_use_ends_the_session_at_once(make_settings, start_app):
    async with start_app(make_settings(REFRESH_REUSE_GRACE_SECONDS="0")) as api:
        session = await signup_verified(api)
        rotated = await refresh(api, session["refreshToken"])
        assert (await refresh(api, session["refreshToken"]))["__typename"] == "InvalidToken"
        assert await api.run(d.ME, token=rotated["accessToken"]) is None


async def test_a_session_ends_at_its_maximum_age_however_often_it_is_refreshed(api, clock):
    # given: refreshed every 20 days (well within the 30-day idle limit)
    session = await signup_verified(api)
    token = session["refreshToken"]
    for _ in range(4):  # day 80
        clock.advance(20 * DAY)
        rotated = await refresh(api, token)
        assert rotated["__typename"] == "Session", rotated
        token = rotated["refreshToken"]
    # when: day 90 and a little
    clock.advance(10 * DAY + 60)
    late = await refresh(api, token)
    # then
    assert late["__typename"] == "InvalidToken"


async def test_a_session_unused_for_the_idle_limit_ends(api, clock):
    session = await signup_verified(api)
    clock.advance(30 * DAY + 60)  # REFRESH_TOKEN_TTL_SECONDS: 30 days
    assert (await refresh(api, session["refreshToken"]))["__typename"] == "InvalidToken"


async def test_a_shorter_maximum_age_ends_the_session_and_its_access_tokens(
    make_settings, start_app
):
    async with start_app(make_settings(SESSION_MAX_AGE_SECONDS="2")) as api:
        session = await signup_verified(api)
        assert await api.run(d.ME, token=session["accessToken"]) is not None
        await asyncio.sleep(2.1)
        assert await api.run(d.ME, token=session["accessToken"]) is None
        assert (await refresh(api, session["refreshToken"]))["__typename"] == "InvalidToken"
