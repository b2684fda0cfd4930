"""Enumeration: signup, requestReset and login answer an unknown phone exactly as a
registered one, in what they say and in how long they take. (resendVerification and
verifyPhone take a challenge, so a phone alone reaches nothing there: their decoy
challenges are compared in tests/test_attacks_enumeration.py and test_attacks_signup.py.)

The timing test sends a few hundred requests per operation (PHONEGATE_TIMING_SAMPLES a
side, default 150) and compares medians (within 10 ms), once per run: on PostgreSQL if the
run has it, else on SQLite. It uses the suite's cheap argon2 unless ARGON2_MEMORY_KIB and
ARGON2_TIME_COST are set in the environment. Print the figures with ``-s``:

    uv run pytest tests/test_security_enumeration.py -k timing -s
    ARGON2_MEMORY_KIB=19456 ARGON2_TIME_COST=2 uv run pytest ... -k timing -s
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, Api, new_phone
from tests.test_security_support import drained, limits, sms_queued

SAMPLES = int(os.environ.get("PHONEGATE_TIMING_SAMPLES", "150"))
MAX_MEDIAN_GAP_SECONDS = 0.010
ARGON2 = {k: os.environ[k] for k in ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST") if k in os.environ}


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs by design (the phone echoed, the expiry moment)."""
    return {
        k: v for k, v in answer.items() if k not in ("phone", "expiresAt", "challenge", "sentTo")
    }


async def pending(api: Api) -> str:
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    assert sent["__typename"] == "VerificationSent"
    return phone


async def verified(api: Api) -> str:
    phone = new_phone()
    await signup_verified(api, phone)
    return phone


# Each operation: (document, variables for a phone).
OPERATIONS: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "signup": (d.SIGNUP, lambda p: {"input": {"phone": p, "password": OTHER_PASSWORD}}),
    "requestReset": (d.REQUEST_RESET, lambda p: {"phone": p}),
    "login": (d.LOGIN, lambda p: {"input": {"identifier": p, "password": OTHER_PASSWORD}}),
}


@pytest.fixture
async def open_api(make_settings, start_app):
    """No resend wait and every limit out of the way: only existence may differ."""
    settings = make_settings(RESEND_COOLDOWN_SECONDS="0", RATE_LIMITS=limits(), **ARGON2)
    async with start_app(settings) as api:
        yield api


async def test_every_answer_is_the_same_for_known_and_unknown_phones(open_api):
    api = open_api
    # given a registered phone for each flow, and phones nobody registered
    known = {
        "signup": await verified(api),
        "requestReset": await verified(api),
        "login": await verified(api),
    }
    for name, (document, variables) in OPERATIONS.items():
        unknown = new_phone()
        # when each is asked twice (the second answer may carry a wait or a lock)
        for _ in range(2):
            mine = await api.run(document, variables(known[name]))
            theirs = await api.run(document, variables(unknown))
            # then
            assert comparable(mine) == comparable(theirs), (name, mine, theirs)


async def test_an_unverified_account_and_a_wrong_password_answer_like_nobody(api):
    unverified = await pending(api)
    registered = await verified(api)
    answers = [
        await api.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
        for phone in (unverified, registered, new_phone())
    ]
    assert [a["__typename"] for a in answers] == ["InvalidCredentials"] * 3
    assert len({a["message"] for a in answers}) == 1


async def test_a_locked_account_answers_like_a_locked_unknown_phone(make_settings, start_app):
    async with start_app(make_settings(RATE_LIMITS="login_per_client=100/minute")) as api:
        registered, unknown = await verified(api), new_phone()
        sequences = []
        for phone in (registered, unknown):
            variables = {"input": {"identifier": phone, "password": OTHER_PASSWORD}}
            sequences.append([(await api.run(d.LOGIN, variables))["__typename"] for _ in range(7)])
    # past the per-account limit both step up to a (decoy) second factor, never RateLimited
    assert sequences[0] == sequences[1] == ["InvalidCredentials"] * 5 + ["SecondFactorRequired"] * 2


async def test_unknown_phones_get_no_sms_and_signup_tells_the_owner(open_api):
    api = open_api
    registered, unknown = await verified(api), new_phone()
    await api.run(d.REQUEST_RESET, {"phone": unknown})
    again = await api.run(d.SIGNUP, {"input": {"phone": registered, "password": OTHER_PASSWORD}})
    await drained(registered, unknown)
    assert await sms_queued(unknown) == 0
    assert again["__typename"] == "VerificationSent"
    assert [m.action for m in api.sms.to(registered)][-1] == "signup_existing"
    login = await api.run(
        d.LOGIN, {"input": {"identifier": registered, "password": OTHER_PASSWORD}}
    )
    assert login["__typename"] == "InvalidCredentials"  # the new password took nothing over


# --- timing ------------------------------------------------------------------------------


async def timed(api: Api, document: str, variables: dict[str, Any]) -> tuple[float, str]:
    started = time.perf_counter()
    response = await api.http.post("/graphql", json={"query": document, "variables": variables})
    elapsed = time.perf_counter() - started
    (value,) = response.json()["data"].values()
    return elapsed, value["__typename"]


async def known_phones(api: Api) -> dict[str, list[str]]:
    """Registered phones per operation, each asked about repeatedly (an unknown phone is
    new every time, as an attacker's would be): verified accounts."""
    accounts = [await verified(api) for _ in range(10)]
    return {"signup": accounts, "requestReset": accounts, "login": accounts}


async def measure(api: Api, name: str, known: list[str]) -> dict[str, list[float]]:
    document, variables = OPERATIONS[name]
    for _ in range(10):  # warm caches and pools on phones outside the samples
        await timed(api, document, variables(new_phone()))
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    kinds: dict[str, set[str]] = {"known": set(), "unknown": set()}
    for i in range(SAMPLES):
        pair = [("known", known[i % len(known)]), ("unknown", new_phone())]
        random.shuffle(pair)  # neither side always goes first
        for side, phone in pair:
            elapsed, kind = await timed(api, document, variables(phone))
            times[side].append(elapsed)
            kinds[side].add(kind)
    assert kinds["known"] == kinds["unknown"], (name, kinds)
    return times


@pytest.mark.postgres_only  # timed once per run: on PostgreSQL, the production database
async def test_timing_of_known_and_unknown_phones_is_the_same(open_api, db_kind):
    rows = []
    registered = await known_phones(open_api)
    for name in OPERATIONS:
        times = await measure(open_api, name, registered[name])
        known, unknown = (statistics.median(times[s]) for s in ("known", "unknown"))
        rows.append((name, known, unknown))
    params = ARGON2 or {"ARGON2_MEMORY_KIB": "1024", "ARGON2_TIME_COST": "1"}
    print(f"\ntiming on {db_kind}, {SAMPLES} samples per side, argon2 {params}")
    print(f"{'operation':<20}{'known ms':>10}{'unknown ms':>12}{'gap ms':>9}")
    for name, known, unknown in rows:
        gap = (known - unknown) * 1000
        print(f"{name:<20}{known * 1000:>10.2f}{unknown * 1000:>12.2f}{gap:>9.2f}")
    for name, known, unknown in rows:
        assert abs(known - unknown) < MAX_MEDIAN_GAP_SECONDS, (name, known, unknown)
