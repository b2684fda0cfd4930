"""Codes: uniform, stored only as keyed hashes, single use under concurrency."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.clock import now
from models import OutboxMessage, PendingSignup, VerificationCode
from resolvers import codes as issuing
from resolvers.codes import generate_code
from tests import documents as d
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, eventually, new_phone


def test_codes_are_uniform_over_every_digit_position():
    # given 10,000 codes
    codes = [generate_code(6) for _ in range(10_000)]
    # then each position's digits pass a chi-square test (9 df, p = 1e-6 -> 45.0: a
    # uniform generator fails it about once in 180,000 runs of the six positions; with
    # p = 0.001 (27.88) one CI run in 170 failed, once at 43.7; a skewed generator, a digit
    # missing or a fixed position, lands in the hundreds)
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    for position in range(6):
        counts = Counter(c[position] for c in codes)
        chi2 = sum((counts[str(digit)] - 1000) ** 2 / 1000 for digit in range(10))
        assert chi2 < 45.0, (position, counts)
    assert any(c.startswith("0") for c in codes)


async def test_no_plain_code_is_kept_in_the_database_or_the_log(api, caplog):
    caplog.set_level(logging.INFO)  # what the server logs (SQL debug logging is never on)
    phone = new_phone()
    await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    code = await api.sms.code(phone, "verify_signup")
    await eventually(  # the worker records the send right after it
        OutboxMessage.filter(phone=phone, action="verify_signup", state="sent").exists
    )
    row = await VerificationCode.get(purpose="signup", phone=phone, challenge_hash__isnull=False)
    assert code not in row.code_hash and len(row.code_hash) == 64
    message = await OutboxMessage.get(phone=phone, action="verify_signup")
    assert message.state == "sent" and message.body is None
    assert code not in caplog.text


async def test_twenty_parallel_uses_of_one_code_give_exactly_one_session(api):
    # given
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    code = await api.sms.code(phone, "verify_signup")
    verify = {"input": {"phone": phone, "challenge": sent["challenge"], "code": code}}
    # when
    answers = await asyncio.gather(*[api.run(d.VERIFY_PHONE, verify) for _ in range(20)])
    # then
    kinds = Counter(a["__typename"] for a in answers)
    assert kinds["Session"] == 1, kinds
    # after the win a used code counts guesses like a live one (issue 11): the rest may
    # lock it
    assert set(kinds) <= {"Session", "InvalidCode", "TooManyAttempts"}


async def test_fifty_parallel_wrong_guesses_count_at_most_max_attempts(api):
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    challenge = sent["challenge"]
    code = await api.sms.code(phone, "verify_signup")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    guess = {"input": {"phone": phone, "challenge": challenge, "code": wrong}}
    answers = await asyncio.gather(*[api.run(d.VERIFY_PHONE, guess) for _ in range(50)])
    row = await VerificationCode.get(purpose="signup", phone=phone, challenge_hash__isnull=False)
    assert row.attempts == 5
    assert all(
        a["__typename"] in ("InvalidCode", "TooManyAttempts", "RateLimited") for a in answers
    )
    right = {"input": {"phone": phone, "challenge": challenge, "code": code}}
    final = await api.run(d.VERIFY_PHONE, right)
    assert final["__typename"] in ("TooManyAttempts", "RateLimited")


async def test_parallel_signups_of_one_phone_make_one_account(make_settings, start_app):
    async with start_app(
        make_settings(RESEND_COOLDOWN_SECONDS="0", RATE_LIMITS="sms_per_phone=100/minute")
    ) as api:
        phone = new_phone()
        answers = await asyncio.gather(
            *[
                api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
                for _ in range(10)
            ]
        )
        kinds = Counter(a["__typename"] for a in answers)
        assert set(kinds) <= {"VerificationSent", "RateLimited"} and kinds["VerificationSent"] >= 1
        sent = [a for a in answers if a["__typename"] == "VerificationSent"]
        await api.sms.wait(phone, "verify_signup", count=len(sent))
        codes = [await api.sms.code(phone, "verify_signup", i + 1) for i in range(len(sent))]
        # every signup verified at once, each with every code: one account
        verified = await asyncio.gather(
            *[
                api.run(
                    d.VERIFY_PHONE,
                    {"input": {"phone": phone, "challenge": a["challenge"], "code": code}},
                )
                for a in sent
                for code in codes
            ]
        )
        from models import User

        assert sum(v["__typename"] == "Session" for v in verified) == 1
        assert await User.filter(phone=phone).count() == 1


async def test_parallel_resets_have_one_winner_whose_password_works(api):
    phone = new_phone()
    from tests.conftest import signup_verified

    await signup_verified(api, phone)
    challenge = (await api.run(d.REQUEST_RESET, {"phone": phone}))["challenge"]
    code = await api.sms.code(phone, "reset_password")
    passwords = [f"{OTHER_PASSWORD} {i} zebra" for i in range(8)]
    answers = await asyncio.gather(
        *[
            api.run(
                d.RESET_PASSWORD,
                {"input": {"phone": phone, "challenge": challenge, "code": code, "newPassword": p}},
            )
            for p in passwords
        ]
    )
    winners = [
        p for p, a in zip(passwords, answers, strict=True) if a["__typename"] == "PasswordReset"
    ]
    assert len(winners) == 1
    # the winner first: after a few wrong passwords the account asks for a code (step-up),
    # whoever asks, so a later right password would not answer a Session
    first = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": winners[0]}})
    assert first["__typename"] == "Session"
    for p in passwords:
        if p != winners[0]:
            login = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": p}})
            assert login["__typename"] != "Session"


async def test_thirty_parallel_resends_of_one_signup_send_one_sms(make_settings, start_app):
    """The resend guard (the UPDATE only while the row holds the send count and time that
    were read). SQLite shows the race too: every resend reads the row before any writes."""
    limits = "sms_per_phone=1000/minute,sms_per_client=1000/minute,sms_per_prefix=1000/minute"
    async with start_app(make_settings(RATE_LIMITS=limits, RESEND_COOLDOWN_SECONDS="1")) as api:
        phone = new_phone()
        sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        await api.sms.wait(phone, "verify_signup")
        await asyncio.sleep(1.1)  # the first code's resend wait is over
        resend = {"phone": phone, "challenge": sent["challenge"]}
        answers = await asyncio.gather(*[api.run(d.RESEND, resend) for _ in range(30)])
        kinds = Counter(a["__typename"] for a in answers)
        assert kinds["VerificationSent"] == 1 and kinds["RateLimited"] == 29, kinds
        await api.sms.wait(phone, "verify_signup", count=2)
        await asyncio.sleep(0.2)
        assert len(api.sms.to(phone, "verify_signup")) == 2


WIDE_BUDGETS = "sms_per_phone=1000/minute,sms_per_client=1000/minute,sms_per_prefix=1000/minute"


def policy(cooldown_seconds: int) -> issuing.CodePolicy:
    return issuing.CodePolicy(b"k" * 32, 6, 600, 5, cooldown_seconds, 3600, {})


async def test_thirty_parallel_signups_of_a_new_phone_send_one_code(make_settings, start_app):
    """The phone's wait row does not exist yet: every signup reads none, one INSERT wins and
    the others, finding its row by the unique key, are in its resend wait."""
    async with start_app(make_settings(RATE_LIMITS=WIDE_BUDGETS)) as api:
        # given a phone never seen, the default resend wait
        phone = new_phone()
        # when thirty signups of it race
        signup = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
        answers = await asyncio.gather(*[api.run(d.SIGNUP, signup) for _ in range(30)])
        # then one goes out
        kinds = Counter(a["__typename"] for a in answers)
        assert kinds == {"VerificationSent": 1, "RateLimited": 29}, kinds
        await api.sms.wait(phone, "verify_signup")
        await asyncio.sleep(0.2)
        assert len(api.sms.to(phone, "verify_signup")) == 1
        assert await PendingSignup.filter(phone=phone).count() == 1


async def test_thirty_parallel_signups_after_the_wait_send_one_code(make_settings, start_app):
    """The wait row exists: every signup reads it before any claims it, and the guarded
    UPDATE (the send count and time as read) lets one through."""
    settings = make_settings(RATE_LIMITS=WIDE_BUDGETS, RESEND_COOLDOWN_SECONDS="1")
    async with start_app(settings) as api:
        # given a phone with one signup whose resend wait is over
        phone = new_phone()
        signup = {"input": {"phone": phone, "password": STRONG_PASSWORD}}
        assert (await api.run(d.SIGNUP, signup))["__typename"] == "VerificationSent"
        await api.sms.wait(phone, "verify_signup")
        await asyncio.sleep(1.1)
        # when thirty more race
        answers = await asyncio.gather(*[api.run(d.SIGNUP, signup) for _ in range(30)])
        # then one goes out
        kinds = Counter(a["__typename"] for a in answers)
        assert kinds == {"VerificationSent": 1, "RateLimited": 29}, kinds
        await api.sms.wait(phone, "verify_signup", count=2)
        await asyncio.sleep(0.2)
        assert len(api.sms.to(phone, "verify_signup")) == 2


async def test_a_wait_claimed_after_it_was_read_is_refused(api):
    # given the wait row read by one request, then claimed by another
    phone = new_phone()
    rules = policy(cooldown_seconds=0)  # only the guarded UPDATE can refuse
    await issuing.claim_phone_wait(rules, issuing.RESET, phone, None)
    seen = await issuing.phone_wait(issuing.RESET, phone)
    await issuing.claim_phone_wait(rules, issuing.RESET, phone, seen)
    # when the first claims with the row as it read it
    with pytest.raises(issuing.RateLimitExceeded):
        await issuing.claim_phone_wait(rules, issuing.RESET, phone, seen)
    # then only the two claims counted
    row = await issuing.phone_wait(issuing.RESET, phone)
    assert row is not None and row.send_count == 2


async def test_a_wait_row_made_meanwhile_is_found_by_its_key(api):
    # given a wait row made after this request read none
    phone = new_phone()
    await issuing.claim_phone_wait(policy(cooldown_seconds=60), issuing.RESET, phone, None)
    # when it claims, outside a transaction and inside one
    with pytest.raises(issuing.RateLimitExceeded):
        await issuing.claim_phone_wait(policy(cooldown_seconds=60), issuing.RESET, phone, None)
    async with in_transaction():
        pending = await _pending(phone)
        with pytest.raises(issuing.RateLimitExceeded):
            await issuing.claim_phone_wait(policy(60), issuing.RESET, phone, None)
    # then it waits like a resend, and the conflict did not end the caller's transaction:
    # its savepoint was rolled back, not the transaction (PostgreSQL refuses every statement
    # of an aborted one)
    assert await PendingSignup.filter(id=pending.id).exists()
    async with in_transaction():
        await issuing.claim_phone_wait(policy(0), issuing.RESET, phone, None)
        after = await _pending(phone)
    assert await PendingSignup.filter(id=after.id).exists()
    row = await issuing.phone_wait(issuing.RESET, phone)
    assert row is not None and row.send_count == 2


async def test_a_fresh_code_whose_subject_has_a_row_fails_with_its_transaction(api):
    # given a code of a fresh subject
    phone, subject = new_phone(), issuing.new_subject("test")
    first = await issuing.issue(
        policy(60), issuing.RESET, subject=subject, phone=phone, user_id=None, fresh=True
    )
    # when the same subject is issued as fresh again, in a transaction with another write
    with pytest.raises(IntegrityError):
        async with in_transaction():
            pending = await _pending(phone)
            await issuing.issue(
                policy(60), issuing.RESET, subject=subject, phone=phone, user_id=None, fresh=True
            )
    # then the conflict raised (a bug, never taken for a resend) and nothing was written
    assert not await PendingSignup.filter(id=pending.id).exists()
    rows = await VerificationCode.filter(subject=subject)
    assert [r.id for r in rows] == [first.row_id] and rows[0].send_count == 1


async def _pending(phone: str) -> PendingSignup:
    expires_at = now() + timedelta(minutes=5)
    return await PendingSignup.create(phone=phone, password_hash="x", expires_at=expires_at)
