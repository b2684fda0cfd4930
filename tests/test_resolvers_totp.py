"""TOTP and recovery-code primitives: sealed secrets, the drift window, no replay, single use
under concurrency; and the security history's retention."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyotp

from core.clock import now
from models import RecoveryCode, SecurityEvent, TotpCredential, User
from resolvers import events, totp
from resolvers.deps import Client
from resolvers.maintenance import purge
from tests.conftest import TEST_SECRET
from tests.support import new_phone

KEYS = totp.TotpKeys.from_secret(TEST_SECRET)


async def make_user() -> User:
    return await User.create(phone=new_phone(), password_hash="x", is_verified=True)


async def user_with_totp() -> tuple[User, str]:
    user = await make_user()
    secret = totp.new_secret()
    await TotpCredential.create(user=user, secret_sealed=totp.seal(KEYS, user.id, secret))
    return user, secret


def test_a_sealed_secret_opens_only_for_its_user_under_its_key():
    # given
    secret = totp.new_secret()
    # when
    sealed = totp.seal(KEYS, 7, secret)
    # then
    assert secret not in sealed and len(secret) == 32
    assert totp.unseal(KEYS, 7, sealed) == secret
    assert totp.unseal(KEYS, 8, sealed) is None
    assert totp.unseal(totp.TotpKeys.from_secret("another-secret-" + "y" * 40), 7, sealed) is None
    assert totp.seal(KEYS, 7, secret) != sealed  # a fresh nonce each time


def test_codes_of_the_neighbouring_steps_match_and_farther_ones_do_not():
    # given a secret and a moment in the middle of a step
    secret = totp.new_secret()
    at = datetime(2026, 11, 30, 12, 0, 15, tzinfo=UTC)
    app = pyotp.TOTP(secret)
    step = int(at.timestamp()) // 30
    # then
    for offset in (-1, 0, 1):
        code = app.at(at + timedelta(seconds=30 * offset))
        assert totp.matching_step(secret, code, at) == step + offset
    for offset in (-3, -2, 2, 3):
        code = app.at(at + timedelta(seconds=30 * offset))
        if code not in {app.at(at + timedelta(seconds=30 * o)) for o in (-1, 0, 1)}:
            assert totp.matching_step(secret, code, at) is None
    assert totp.matching_step(secret, "12345", at) is None
    assert totp.matching_step(secret, "１２３４５６", at) is None  # full-width digits


def test_the_otpauth_uri_carries_the_secret_and_the_issuer():
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, "alice")
    parsed = pyotp.parse_uri(uri)
    assert uri.startswith("otpauth://totp/")
    assert parsed.secret == secret and parsed.issuer == "phonegate"


async def test_a_totp_code_works_once_and_an_older_step_never_after_a_newer(api):
    # given
    user, secret = await user_with_totp()
    app = pyotp.TOTP(secret)
    # when / then: the current code once
    current = app.now()
    assert await totp.check_totp(KEYS, user.id, current) is True
    assert await totp.check_totp(KEYS, user.id, current) is False
    # the previous step's code, though in the drift window, is older than the one used
    previous = app.at(now() - timedelta(seconds=30))
    if previous != current:
        assert await totp.check_totp(KEYS, user.id, previous) is False
    # a wrong code never
    wrong = f"{(int(current) + 1) % 1_000_000:06d}"
    assert await totp.check_totp(KEYS, user.id, wrong) is False


async def test_twenty_parallel_uses_of_one_totp_code_succeed_once(api):
    user, secret = await user_with_totp()
    code = pyotp.TOTP(secret).now()
    results = await asyncio.gather(*[totp.check_totp(KEYS, user.id, code) for _ in range(20)])
    assert Counter(results) == {True: 1, False: 19}


async def test_no_totp_code_works_for_an_account_without_totp_on(api):
    user = await make_user()
    secret = totp.new_secret()
    await TotpCredential.create(user=user, pending_sealed=totp.seal(KEYS, user.id, secret))
    assert await totp.check_totp(KEYS, user.id, pyotp.TOTP(secret).now()) is False


def test_recovery_codes_are_long_random_and_distinct():
    codes = [totp.new_recovery_code() for _ in range(1000)]
    assert len(set(codes)) == 1000
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    # every base32 character shows up in every position of the 16 (80 random bits)
    stripped = [c.replace("-", "") for c in codes]
    for position in range(16):
        assert len({s[position] for s in stripped}) == 32


async def test_recovery_codes_are_stored_as_keyed_hashes_and_each_works_once(api):
    # given
    user = await make_user()
    codes = await totp.replace_recovery_codes(KEYS, user.id)
    # then
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = await RecoveryCode.filter(user_id=user.id).values_list("code_hash", flat=True)
    assert len(stored) == 10
    for code in codes:
        bare = code.replace("-", "")
        assert all(bare not in h and code not in h for h in stored)
    assert await totp.recovery_codes_left(user.id) == 10
    # typed in capitals without dashes, it is the same code; once only
    assert await totp.use_recovery_code(KEYS, user.id, codes[0].upper().replace("-", " ")) is True
    assert await totp.use_recovery_code(KEYS, user.id, codes[0]) is False
    assert await totp.recovery_codes_left(user.id) == 9
    # another account's code does not work here
    other = await make_user()
    other_codes = await totp.replace_recovery_codes(KEYS, other.id)
    assert await totp.use_recovery_code(KEYS, user.id, other_codes[0]) is False
    # new codes end the old ones
    await totp.replace_recovery_codes(KEYS, user.id)
    assert await totp.use_recovery_code(KEYS, user.id, codes[1]) is False
    assert await totp.recovery_codes_left(user.id) == 10


async def test_twenty_parallel_uses_of_one_recovery_code_succeed_once(api):
    user = await make_user()
    code = (await totp.replace_recovery_codes(KEYS, user.id))[0]
    results = await asyncio.gather(
        *[totp.use_recovery_code(KEYS, user.id, code) for _ in range(20)]
    )
    assert Counter(results) == {True: 1, False: 19}
    assert await totp.recovery_codes_left(user.id) == 9


async def test_events_are_kept_90_days_and_read_newest_first(api):
    # given one old and two recent events
    user = await make_user()
    client = Client("203.0.113.9", ip_address="203.0.113.9", user_agent="Agent/1.0")
    old = await events.record(user.id, events.LOGIN, client)
    await SecurityEvent.filter(id=old.id).update(at=now() - timedelta(days=91))
    await events.record(user.id, events.LOGIN_FAILED, client)
    await events.record(user.id, events.TOTP_ENABLED, None)
    # when
    removed = await purge(api.app.state.deps)  # (the server's own purge may run first)
    # then
    assert "security_events" in removed
    assert not await SecurityEvent.exists(id=old.id)
    newest = await events.newest(user.id, 20)
    assert [e.kind for e in newest] == ["totp_enabled", "login_failed"]
    assert (newest[1].ip_address, newest[1].user_agent) == ("203.0.113.9", "Agent/1.0")
    assert [e.kind for e in await events.newest(user.id, 1)] == ["totp_enabled"]
    assert await events.newest(user.id, -5) == []
