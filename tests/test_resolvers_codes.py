"""Codes: uniform, stored only as keyed hashes, single use under concurrency."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from models import OutboxMessage, VerificationCode
from resolvers.codes import generate_code
from tests import documents as d
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, eventually, new_phone


def test_codes_are_uniform_over_every_digit_position():
    # given 10,000 codes
    codes = [generate_code(6) for _ in range(10_000)]
    # then each position's digits pass a chi-square test (9 df, p = 0.001 -> 27.88)
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    for position in range(6):
        counts = Counter(c[position] for c in codes)
        chi2 = sum((counts[str(digit)] - 1000) ** 2 / 1000 for digit in range(10))
        assert chi2 < 27.88, (position, counts)
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
