"""verifyPhone's writes in one statement on PostgreSQL (resolvers/signup.py,
``_complete_chained``) against the ORM's statements (``_complete``), on PostgreSQL and on
SQLite (which always runs them): the same verification on each path and database writes
the same rows, column by column, except ids, timestamps and what is random by design (the salted password hash is the signup's, the
refresh token's hash is of a random token). A model change that the chain would miss
fails here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections

import resolvers.signup as signup
from models import (
    AuthSession,
    OutboxMessage,
    PendingSignup,
    RefreshToken,
    SecurityEvent,
    User,
    VerificationCode,
)
from resolvers.usernames import normalize_username
from tests import documents as d
from tests.chain_support import ChainSpy, on_sqlite
from tests.conftest import random_client
from tests.support import STRONG_PASSWORD, new_phone

pytestmark = pytest.mark.postgres_only

SKIP = {"id", "created_at", "updated_at", "at", "last_used_at", "user_id", "session_id"}
# the worker's bookkeeping of the send (both notices are sent before they are compared)
SENT = {"next_attempt_at", "sent_at", "lease_until", "claim_token", "provider_sid"}


async def verified_rows(api: Any, name: str) -> dict[str, Any]:
    """Sign a phone up twice (the first with a username and a locale), verify the first,
    and read back every row the verification wrote or ended, the phone and name made
    generic so that two runs compare."""
    phone = new_phone()
    first = {"phone": phone, "password": STRONG_PASSWORD, "username": name, "locale": "es"}
    sent = await api.run(d.SIGNUP, {"input": first})
    code = await api.sms.code(phone, "verify_signup")
    other = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    assert other["__typename"] == "VerificationSent", other
    pending_hash = (await PendingSignup.filter(phone=phone).order_by("id").first()).password_hash
    verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
    session = await api.run(d.VERIFY_PHONE, {"input": verify})
    assert session["__typename"] == "Session", session
    notice = await api.sms.wait(phone, "signup_verified")
    for _ in range(500):  # the worker records the send right after it
        if await OutboxMessage.filter(phone=phone, action="signup_verified", state="sent").exists():
            break
        await asyncio.sleep(0.01)
    refreshed = await api.run(d.REFRESH, {"token": session["refreshToken"]})
    assert refreshed["__typename"] == "Session", refreshed

    user = await User.get(phone=phone)
    assert user.password_hash == pending_hash  # the signup's own hash
    sessions = await AuthSession.filter(user_id=user.id).order_by("created_at")
    tokens = await RefreshToken.filter(session_id=sessions[0].id).order_by("id")
    generic = {phone: "PHONE", name: "NAME", normalize_username(name)[1]: "KEY"}

    def row(values: dict[str, Any], skip: set[str] = SKIP) -> dict[str, Any]:
        return {k: generic.get(v, v) for k, v in values.items() if k not in skip}

    return {
        "user": row((await User.filter(id=user.id).values())[0], SKIP | {"password_hash"}),
        "sessions": [row(s) for s in await AuthSession.filter(user_id=user.id).values()],
        # the first token (the chain's or the ORM's), then its rotation's successor
        "tokens": [
            row(t, SKIP | {"token_hash", "expires_at", "used_at"})
            for t in await RefreshToken.filter(session_id=sessions[0].id).order_by("id").values()
        ],
        "token_life": tokens[0].expires_at - sessions[0].created_at,
        "events": [
            row(e) for e in await SecurityEvent.filter(user_id=user.id).order_by("id").values()
        ],
        "notices": [
            row(m, SKIP | SENT)
            for m in await OutboxMessage.filter(phone=phone, action="signup_verified").values()
        ],
        "sms": (notice.body, notice.channel),
        "pending_left": await PendingSignup.filter(phone=phone).count(),
        "codes_live": await VerificationCode.filter(
            purpose="signup", phone=phone, used_at=None
        ).count(),
        "codes": await VerificationCode.filter(purpose="signup", phone=phone).count(),
    }


async def test_the_chain_writes_the_rows_the_orm_writes(
    make_settings, start_app, monkeypatch, tmp_path
):
    # given: verifyPhone on the statement chain, and the same on the ORM's statements
    address = random_client()  # one client for both apps: the rows name its address
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0"), client=address) as api:
        spy = ChainSpy(monkeypatch, signup, "_complete_chained")
        by_chain = await verified_rows(api, "chain_name")
        spy.off()  # the ORM path, as on SQLite
        by_orm = await verified_rows(api, "orm_name")
    spy.on()
    by_sqlite = await on_sqlite(
        make_settings, start_app, tmp_path, address, lambda api: verified_rows(api, "lite_name")
    )
    # then: the chain did write, and its rows are the ORM's
    assert spy.wrote == [True]
    assert abs(by_chain.pop("token_life") - by_orm.pop("token_life")) < timedelta(seconds=1)
    by_sqlite.pop("token_life")
    assert by_chain == by_orm == by_sqlite
    assert by_chain["user"]["locale"] == "es" and by_chain["user"]["username_key"] == "KEY"
    assert by_chain["pending_left"] == 0 and by_chain["codes_live"] == 0
    assert by_chain["codes"] >= 2 and len(by_chain["tokens"]) == 2


async def test_a_verification_cut_at_its_last_write_leaves_the_code_usable(
    make_settings, start_app
):
    # given: a signup with its code, and a database that refuses the verification's last
    # row (the refresh token), as a crash between the chain's writes would leave it
    refuse = (
        "CREATE FUNCTION refuse_token() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse_token BEFORE INSERT ON refresh_tokens "
        "FOR EACH ROW EXECUTE FUNCTION refuse_token()",
    )
    allow = ("DROP TRIGGER refuse_token ON refresh_tokens", "DROP FUNCTION refuse_token()")
    async with start_app(make_settings()) as api:
        phone = new_phone()
        sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        code = await api.sms.code(phone, "verify_signup")
        verify = {"input": {"phone": phone, "code": code, "challenge": sent["challenge"]}}
        connection = connections.get("default")
        for statement in refuse:
            await connection.execute_script(statement)
        try:
            # when
            cut = await api.http.post(
                "/graphql", json={"query": d.VERIFY_PHONE, "variables": verify}
            )
        finally:
            for statement in allow:
                await connection.execute_script(statement)
        # then: an error, and nothing of the verification stays: no account, no message,
        # the signup pending and its code unused, so the same code verifies now
        assert "errors" in cut.json() or cut.status_code != 200, cut.text
        assert not await User.filter(phone=phone).exists()
        assert not await OutboxMessage.filter(phone=phone, action="signup_verified").exists()
        assert await PendingSignup.filter(phone=phone).count() == 1
        again = await api.run(d.VERIFY_PHONE, verify)
        assert again["__typename"] == "Session", again
        assert again["user"]["phone"] == phone
