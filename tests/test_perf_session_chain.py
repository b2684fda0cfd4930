"""Opening a session (resolvers/opening.py) and rotating a refresh token
(resolvers/tokens.py, ``_rotate_chained``) as one statement on PostgreSQL, against the ORM's
statements on PostgreSQL and on SQLite (which always runs them): the same flows write the
same rows, column by column, except ids, the hashes of random tokens and the times
themselves (only whether a time is set is compared, and a token's life to the minute). A
model change the chains would miss fails here, and so does a chain that did not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from tortoise import connections

import resolvers.opening as opening
import resolvers.tokens as tokens
from models import AuthSession, RefreshToken, SecurityEvent, User, rows
from tests import documents as d
from tests.chain_support import on_sqlite
from tests.conftest import random_client, signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD

pytestmark = pytest.mark.postgres_only

AGENT = "session-chain-test/1.0"
SKIP = {"id", "user_id", "session_id", "token_hash"}


def generic(values: dict[str, Any]) -> dict[str, Any]:
    """A row without what differs by design between two runs of one flow."""
    return {
        k: ("TIME" if isinstance(v, datetime) else v)
        for k, v in values.items()
        if k not in SKIP and not isinstance(v, uuid.UUID)
    }


async def run(api: Any, query: str, variables: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return await api.run(query, variables, headers={"User-Agent": AGENT}, **kw)


async def flow_rows(api: Any) -> dict[str, Any]:
    """Log in, refresh, log in again with the SMS second factor, change the password; every
    row these wrote or changed, read back."""
    first = await signup_verified(api)
    phone = first["user"]["phone"]
    credentials = {"identifier": phone, "password": STRONG_PASSWORD}
    logged = await run(api, d.LOGIN, {"input": credentials})
    assert logged["__typename"] == "Session", logged
    refreshed = await run(api, d.REFRESH, {"token": logged["refreshToken"]})
    assert refreshed["__typename"] == "Session", refreshed
    turned = await run(
        api,
        d.SET_TWO_FACTOR,
        {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}},
        token=refreshed["accessToken"],
    )
    assert turned["__typename"] == "TwoFactorUpdated", turned
    step = await run(api, d.LOGIN, {"input": credentials})
    assert step["__typename"] == "SecondFactorRequired", step
    code = await api.sms.code(phone, "login_code")
    verify = {"challenge": step["challenge"], "code": code, "method": "SMS"}
    verified = await run(api, d.VERIFY_LOGIN, {"input": verify})
    assert verified["__typename"] == "Session", verified
    change = {"currentPassword": STRONG_PASSWORD, "newPassword": OTHER_PASSWORD}
    changed = await run(api, d.CHANGE_PASSWORD, {"input": change}, token=verified["accessToken"])
    assert changed["__typename"] == "PasswordChanged", changed
    assert (await api.run(d.ME, token=changed["session"]["accessToken"]))["phone"] == phone

    user = await User.get(phone=phone)
    sessions = await AuthSession.filter(user_id=user.id).order_by("created_at")
    return {
        "sessions": [generic(s) for s in await AuthSession.filter(user_id=user.id).values()],
        "tokens": [
            [generic(t) for t in await RefreshToken.filter(session_id=s.id).order_by("id").values()]
            for s in sessions
        ],
        "token_life_minutes": [
            round((t.expires_at - s.created_at).total_seconds() / 60)
            for s in sessions
            for t in await RefreshToken.filter(session_id=s.id).order_by("id")
        ],
        "events": [
            generic(e) for e in await SecurityEvent.filter(user_id=user.id).order_by("id").values()
        ],
    }


async def test_the_session_chains_write_the_rows_the_orm_writes(
    make_settings, start_app, monkeypatch, tmp_path
):
    # given: the flows on the statement chains, counted, and the same on the ORM's statements
    ran: list[str] = []
    opened, rotated = opening._chained, tokens._rotate_chained

    async def spied_open(*args: Any) -> Any:
        ran.append("open")
        return await opened(*args)

    async def spied_rotate(*args: Any) -> Any:
        ran.append("rotate")
        return await rotated(*args)

    monkeypatch.setattr(opening, "_chained", spied_open)
    monkeypatch.setattr(tokens, "_rotate_chained", spied_rotate)
    address = random_client()  # one client for every app: the rows name its address
    settings = make_settings(RESEND_COOLDOWN_SECONDS="0")
    async with start_app(settings, client=address) as api:
        by_chain = await flow_rows(api)
        chain_ran = list(ran)
        monkeypatch.setattr(rows, "chain_connection", lambda model: None)  # as on SQLite
        by_orm = await flow_rows(api)
    monkeypatch.undo()
    by_sqlite = await on_sqlite(make_settings, start_app, tmp_path, address, flow_rows)
    # then: the chains ran (login, verifyLogin, changePassword; one refresh), and only then
    assert chain_ran == ["open", "rotate", "open", "open"]
    assert ran == chain_ran
    assert by_chain == by_orm == by_sqlite
    kinds = [e["kind"] for e in by_chain["events"]]
    assert kinds == ["signup", "login", "two_factor_changed", "login", "password_changed"]
    assert [len(t) for t in by_chain["tokens"]] == [1, 2, 1, 1]  # the login's was rotated
    assert [t["used_at"] for t in by_chain["tokens"][1]] == ["TIME", None]
    assert [s["revoked_at"] for s in by_chain["sessions"]] == ["TIME", "TIME", "TIME", None]


REFUSE = (
    "CREATE FUNCTION refuse_token() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
    "CREATE TRIGGER refuse_token BEFORE INSERT ON refresh_tokens "
    "FOR EACH ROW EXECUTE FUNCTION refuse_token()",
)
ALLOW = ("DROP TRIGGER refuse_token ON refresh_tokens", "DROP FUNCTION refuse_token()")


@contextlib.asynccontextmanager
async def refused_tokens() -> AsyncIterator[None]:
    """A database that refuses every new refresh token, as a crash inside a chain would."""
    connection = connections.get("default")
    for statement in REFUSE:
        await connection.execute_script(statement)
    try:
        yield
    finally:
        for statement in ALLOW:
            await connection.execute_script(statement)


async def test_a_login_whose_token_is_refused_leaves_no_session_token_or_event(
    make_settings, start_app
):
    # given: an account, and a database that refuses the login's last row
    async with start_app(make_settings()) as api:
        first = await signup_verified(api)
        user = await User.get(phone=first["user"]["phone"])
        before = (
            await AuthSession.filter(user_id=user.id).count(),
            await RefreshToken.filter(session__user_id=user.id).count(),
            await SecurityEvent.filter(user_id=user.id).count(),
        )
        credentials = {"identifier": user.phone, "password": STRONG_PASSWORD}
        # when
        async with refused_tokens():
            cut = await api.http.post(
                "/graphql", json={"query": d.LOGIN, "variables": {"input": credentials}}
            )
        # then: an error, and no session, token or login event was kept; a login works now
        assert "errors" in cut.json() or cut.status_code != 200, cut.text
        after = (
            await AuthSession.filter(user_id=user.id).count(),
            await RefreshToken.filter(session__user_id=user.id).count(),
            await SecurityEvent.filter(user_id=user.id).count(),
        )
        assert after == before
        again = await api.run(d.LOGIN, {"input": credentials})
        assert again["__typename"] == "Session", again


async def test_a_refresh_whose_successor_is_refused_leaves_the_token_usable(
    make_settings, start_app
):
    # given: a session, and a database that refuses the rotation's successor
    async with start_app(make_settings(REFRESH_REUSE_GRACE_SECONDS="0")) as api:
        first = await signup_verified(api)
        session = await AuthSession.get(user__phone=first["user"]["phone"])
        # when
        async with refused_tokens():
            cut = await api.http.post(
                "/graphql", json={"query": d.REFRESH, "variables": {"token": first["refreshToken"]}}
            )
        # then: an error, the token unclaimed and the session untouched, so it refreshes now
        # (with no grace, a token the cut had claimed would count as reused and end it)
        assert "errors" in cut.json() or cut.status_code != 200, cut.text
        assert await RefreshToken.filter(session_id=session.id, used_at=None).count() == 1
        assert (await AuthSession.get(id=session.id)).last_used_at == session.last_used_at
        again = await api.run(d.REFRESH, {"token": first["refreshToken"]})
        assert again["__typename"] == "Session", again


async def test_parallel_refreshes_of_one_token_write_one_successor(make_settings, start_app):
    # given: a session, with no reuse grace
    async with start_app(make_settings(REFRESH_REUSE_GRACE_SECONDS="0")) as api:
        first = await signup_verified(api)
        session = await AuthSession.get(user__phone=first["user"]["phone"])
        # when: eight refreshes of its token at once
        answers = await asyncio.gather(
            *(api.run(d.REFRESH, {"token": first["refreshToken"]}) for _ in range(8))
        )
        # then: exactly one rotation won (one successor written); the others were reuse,
        # which ended the session, so the winner's successor is dead too
        kinds = sorted(a["__typename"] for a in answers)
        assert kinds.count("Session") == 1, kinds
        assert await RefreshToken.filter(session_id=session.id).count() == 2
        assert (await AuthSession.get(id=session.id)).revoked_at is not None
        winner = next(a for a in answers if a["__typename"] == "Session")
        late = await api.run(d.REFRESH, {"token": winner["refreshToken"]})
        assert late["__typename"] != "Session", late
