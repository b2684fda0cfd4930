"""signup's writes in one statement on PostgreSQL (resolvers/signup.py, ``_open_chained``)
against the ORM's statements (``_open``), on PostgreSQL and on SQLite (which always runs
them): the same signup on each path and database writes the same rows, column by column,
except ids, timestamps and what is random by design (the salted password hash, the code's
and the challenge's keyed hashes), for a new phone (its code) and a registered one (a decoy
code, its owner told in the owner's language). A model change that the chain would miss
fails here; so does a chain that did not run.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any

import pytest
from tortoise import connections

import resolvers.signup as signup
from models import OutboxMessage, PendingSignup, VerificationCode
from resolvers.usernames import normalize_username
from tests import documents as d
from tests.chain_support import ChainSpy, on_sqlite
from tests.conftest import random_client, signup_verified
from tests.support import STRONG_PASSWORD, new_phone

pytestmark = pytest.mark.postgres_only

RANDOM = {"id", "created_at", "updated_at", "password_hash", "code_hash", "challenge_hash"}
TIMES = {"expires_at", "sent_at", "next_attempt_at", "send_before"}
# the worker's bookkeeping of the send (the message is sent before it is compared)
SENT = {"lease_until", "claim_token", "provider_sid"}


def unique(name: str) -> str:
    """A name no account of the run holds (the databases outlive a test)."""
    return f"{name.title()}_{secrets.token_hex(4)}"  # its key (lower case) differs


def seconds(later: datetime, earlier: datetime) -> int:
    return round((later - earlier).total_seconds())


async def signup_rows(api: Any, name: str, *, registered: bool) -> dict[str, Any]:
    """One signup (a username, locale "fr") of a new phone or of one an account (locale
    "es") holds, and every row it wrote, the phone, name and ids made generic so that two
    runs compare."""
    phone = new_phone()
    if registered:
        owner = {"phone": phone, "password": STRONG_PASSWORD, "locale": "es"}
        sent = await api.run(d.SIGNUP, {"input": owner})
        code = await api.sms.code(phone, "verify_signup")
        verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
        assert (await api.run(d.VERIFY_PHONE, {"input": verify}))["__typename"] == "Session"
    mine = {"phone": phone, "password": STRONG_PASSWORD, "username": name, "locale": "fr"}
    sent = await api.run(d.SIGNUP, {"input": mine})
    assert sent["__typename"] == "VerificationSent", sent
    action = "signup_existing" if registered else "verify_signup"
    sms = await api.sms.wait(phone, action)
    for _ in range(500):  # the worker records the send right after it
        if await OutboxMessage.filter(phone=phone, action=action, state="sent").exists():
            break
        await asyncio.sleep(0.01)

    pending = await PendingSignup.filter(phone=phone).order_by("-id").first()
    assert pending is not None
    code_row = await VerificationCode.get(subject=f"signup:{pending.id}")
    messages = await OutboxMessage.filter(code_id=code_row.id).values()
    generic = {
        phone: "PHONE",
        name: "NAME",
        normalize_username(name)[1]: "KEY",
        f"signup:{pending.id}": "SUBJECT",
    }
    code_digits = "" if registered else await api.sms.code(phone, "verify_signup")

    def cell(key: str, value: Any) -> Any:
        if key == "code_id":
            return "CODE_ID" if value == code_row.id else value
        if key == "body" and code_digits and value is not None:
            return value.replace(code_digits, "C")
        return generic.get(value, value) if isinstance(value, str) else value

    def row(values: dict[str, Any]) -> dict[str, Any]:
        return {k: cell(k, v) for k, v in values.items() if k not in RANDOM | TIMES | SENT}

    (message,) = messages
    return {
        "pending": row((await PendingSignup.filter(id=pending.id).values())[0]),
        "pending_life": seconds(pending.expires_at, pending.created_at),
        "code": row((await VerificationCode.filter(id=code_row.id).values())[0]),
        "code_life": seconds(code_row.expires_at, code_row.created_at),
        "code_sent": seconds(code_row.sent_at, code_row.created_at),
        "messages": [row(m) for m in messages],
        "message_deadline": message["send_before"] == code_row.expires_at,
        "message_due": seconds(message["next_attempt_at"], message["created_at"]),
        "sms": (sms.body.replace(code_digits, "C") if code_digits else sms.body, sms.channel),
        "phone_messages": await OutboxMessage.filter(phone=phone).count(),
        "pending_of_phone": await PendingSignup.filter(phone=phone).count(),
        "codes_of_phone": await VerificationCode.filter(phone=phone, purpose="signup").count(),
    }


async def rows_of_each_path(
    make_settings: Any, start_app: Any, monkeypatch: Any, tmp_path: Any, *, registered: bool
) -> tuple[list[bool], dict[str, Any], dict[str, Any], dict[str, Any]]:
    address = random_client()  # one client for both apps: the rows name its address
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0"), client=address) as api:
        spy = ChainSpy(monkeypatch, signup, "_open_chained")
        by_chain = await signup_rows(api, unique("chain"), registered=registered)
        spy.off()  # the ORM path, as on SQLite
        by_orm = await signup_rows(api, unique("orm"), registered=registered)
    spy.on()
    by_sqlite = await on_sqlite(
        make_settings,
        start_app,
        tmp_path,
        address,
        lambda api: signup_rows(api, unique("lite"), registered=registered),
    )
    return spy.wrote, by_chain, by_orm, by_sqlite


async def test_a_new_phones_signup_on_the_chain_writes_the_rows_the_orm_writes(
    make_settings, start_app, monkeypatch, tmp_path
):
    # given / when: a new phone's signup on the chain, on the ORM path, and on SQLite
    chained, by_chain, by_orm, by_sqlite = await rows_of_each_path(
        make_settings, start_app, monkeypatch, tmp_path, registered=False
    )
    # then: the chain did write, and its rows are the ORM's
    assert chained == [True]
    assert by_chain == by_orm == by_sqlite
    assert by_chain["pending"]["locale"] == "fr" and by_chain["pending"]["username_key"] == "KEY"
    assert by_chain["code"]["subject"] == "SUBJECT" and by_chain["code"]["user_id"] is None
    assert by_chain["messages"][0]["action"] == "verify_signup"
    assert by_chain["messages"][0]["code_id"] == "CODE_ID"
    assert by_chain["message_deadline"] and by_chain["phone_messages"] == 1


async def test_a_registered_phones_signup_on_the_chain_writes_the_rows_the_orm_writes(
    make_settings, start_app, monkeypatch, tmp_path
):
    # given / when: a registered phone's signup on the chain, on the ORM path, on SQLite
    chained, by_chain, by_orm, by_sqlite = await rows_of_each_path(
        make_settings, start_app, monkeypatch, tmp_path, registered=True
    )
    # then: the chain wrote both signups (the owner's and this one), its rows are the
    # ORM's: a decoy code, and signup_existing to the owner in the owner's language
    assert chained == [True, True]
    assert by_chain == by_orm == by_sqlite
    assert by_chain["pending"]["locale"] == "fr"
    assert by_chain["messages"][0]["action"] == "signup_existing"
    assert by_chain["messages"][0]["code_id"] == "CODE_ID"
    assert "cuenta" in by_chain["sms"][0].lower(), by_chain["sms"]  # Spanish: the owner's
    assert by_chain["message_deadline"]
    assert by_chain["pending_of_phone"] == 1  # the owner's own signup ended when verified


REFUSE = (
    "CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
    "CREATE TRIGGER refuse_message BEFORE INSERT ON outbox_messages "
    "FOR EACH ROW EXECUTE FUNCTION refuse_message()",
)
ALLOW = ("DROP TRIGGER refuse_message ON outbox_messages", "DROP FUNCTION refuse_message()")


async def written_for(phone: str) -> tuple[int, int, int]:
    """The phone's messages, signup codes (not its wait row) and pending signups."""
    return (
        await OutboxMessage.filter(phone=phone).count(),
        await VerificationCode.filter(phone=phone, subject__startswith="signup:").count(),
        await PendingSignup.filter(phone=phone).count(),
    )


@pytest.mark.parametrize("registered", [False, True], ids=["new", "registered"])
@pytest.mark.parametrize("path", ["chain", "orm"])
async def test_a_signup_cut_at_its_last_write_leaves_nothing(
    make_settings, start_app, monkeypatch, path, registered
):
    # given: a phone (registered or not), and a database that refuses the signup's last
    # row (its message), as a crash between the writes would leave it
    chained: list[bool] = []
    chain = signup._open_chained

    async def spied(*args: Any) -> Any:
        chained.append(True)
        return await chain(*args) if path == "chain" else None

    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone = new_phone()
        if registered:
            await signup_verified(api, phone)
        before = await written_for(phone)
        monkeypatch.setattr(signup, "_open_chained", spied)
        connection = connections.get("default")
        for statement in REFUSE:
            await connection.execute_script(statement)
        try:
            # when
            signup_input = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
            cut = await api.http.post(
                "/graphql", json={"query": d.SIGNUP, "variables": signup_input}
            )
        finally:
            for statement in ALLOW:
                await connection.execute_script(statement)
        # then: the answer of an unexpected error, and nothing of the signup stays
        assert chained == [True]
        assert cut.status_code == 200, cut.text
        body = cut.json()
        assert body["data"] is None, body
        assert [e["message"] for e in body["errors"]] == ["Unexpected error."], body
        assert not await PendingSignup.filter(phone=phone).exists()  # none left by the owner
        assert await written_for(phone) == before
        # only the phone's resend wait was claimed (before the signup's writes, as today)
        assert await VerificationCode.filter(phone=phone, subject=f"phone:{phone}").exists()


async def test_a_signup_goes_on_once_the_database_takes_it_again(
    make_settings, start_app, monkeypatch
):
    # given: a signup refused at its message, then the database takes writes again
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone = new_phone()
        connection = connections.get("default")
        for statement in REFUSE:
            await connection.execute_script(statement)
        try:
            signup_input = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
            await api.http.post("/graphql", json={"query": d.SIGNUP, "variables": signup_input})
        finally:
            for statement in ALLOW:
                await connection.execute_script(statement)
        # when
        sent = await api.run(d.SIGNUP, signup_input)
        # then: this signup's code is sent and completes it
        assert sent["__typename"] == "VerificationSent", sent
        code = await api.sms.code(phone, "verify_signup")
        verify = {"phone": phone, "code": code, "challenge": sent["challenge"]}
        session = await api.run(d.VERIFY_PHONE, {"input": verify})
        assert session["__typename"] == "Session", session
        assert session["user"]["phone"] == phone
