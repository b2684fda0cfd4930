"""SMS abuse: resend bursts, per-phone, per-client, per-block and global budgets, pumping to
numbers that pay the caller, countries outside the allowlist, limits shared by workers.

"Sent" below is what the server queued to a phone (outbox rows) and what the sender got.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter

import phonenumbers
import pytest
from prometheus_client import REGISTRY

from tests import documents as d
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone
from tests.test_security_support import (
    aliased,
    drained,
    graphql,
    limits,
    postgres_only,
    sms_queued,
    typenames,
)

GB_MOBILE = "+447400123456"
CA_MOBILE = "+15062345678"


CHALLENGES: dict[str, str] = {}  # each phone's latest signup challenge, for its resends


async def signup(api, phone: str) -> dict:
    answer = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    if "challenge" in answer:
        CHALLENGES[phone] = answer["challenge"]
    return answer


async def resend(api, phone: str) -> dict:
    return await api.run(d.RESEND, {"phone": phone, "challenge": CHALLENGES.get(phone, "none")})


def rate_limited_count(limit: str) -> float:
    return REGISTRY.get_sample_value("phonegate_rate_limited_total", {"limit": limit}) or 0.0


def block_of(size: int) -> list[str]:
    """``size`` valid numbers that differ only in their last three digits."""
    while True:
        prefix = new_phone()[:-3]
        numbers = [f"{prefix}{n:03d}" for n in range(size)]
        if all(phonenumbers.is_valid_number(phonenumbers.parse(n)) for n in numbers):
            return numbers


# --- resend bursts -----------------------------------------------------------------------


async def test_a_burst_of_resends_is_rate_limited_and_sends_one_sms(api):
    # given a signup (its code is the one SMS)
    phone = new_phone()
    await signup(api, phone)
    # when ten resends follow at once, then ten more in one request
    answers = [await resend(api, phone) for _ in range(10)]
    aliased_answer = await graphql(
        api,
        aliased(
            f'resendVerification(phone: "{phone}", challenge: "{CHALLENGES[phone]}") '
            "{ __typename ... on RateLimited { retryAfterSeconds } }",
            10,
        ),
    )
    await drained(phone)
    # then
    assert {a["__typename"] for a in answers} == {"RateLimited"}
    assert all(0 < a["retryAfterSeconds"] <= 600 for a in answers)
    assert set(typenames(aliased_answer["data"])) == {"RateLimited"}
    assert await sms_queued(phone) == 1 and len(api.sms.to(phone)) == 1


# SQLite cannot show this race: its one connection runs each transaction whole, so with the
# resend guard removed (codes.py, the send_count/sent_at filter) SQLite still sent 1 SMS and
# PostgreSQL sent 5.
@postgres_only
async def test_thirty_parallel_resends_send_one_sms(make_settings, start_app, db_kind):
    settings = make_settings(RESEND_COOLDOWN_SECONDS="1", RATE_LIMITS=limits())
    async with start_app(settings) as api:
        # given a signup whose resend wait is over
        phone = new_phone()
        await signup(api, phone)
        await asyncio.sleep(1.1)
        # when thirty resends race
        answers = await asyncio.gather(*[resend(api, phone) for _ in range(30)])
        await drained(phone)
    # then one of them sent a code
    kinds = Counter(a["__typename"] for a in answers)
    assert kinds == {"VerificationSent": 1, "RateLimited": 29}, kinds
    assert len(api.sms.to(phone, "verify_signup")) == 2


@postgres_only  # the phone's wait row is claimed by the same kind of guard: as above
async def test_thirty_parallel_reset_requests_send_one_sms(make_settings, start_app, db_kind):
    async with start_app(make_settings(RATE_LIMITS=limits())) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        answers = await asyncio.gather(
            *[api.run(d.REQUEST_RESET, {"phone": phone}) for _ in range(30)]
        )
        await drained(phone)
    kinds = Counter(a["__typename"] for a in answers)
    assert kinds["ResetCodeSent"] == 1 and kinds["RateLimited"] == 29, kinds
    assert len(api.sms.to(phone, "reset_password")) == 1


async def test_the_resend_wait_doubles_and_is_capped(make_settings, start_app):
    settings = make_settings(
        RESEND_COOLDOWN_SECONDS="1", RESEND_COOLDOWN_MAX_SECONDS="3", RATE_LIMITS=limits()
    )
    async with start_app(settings) as api:
        phone = new_phone()
        await signup(api, phone)
        waits = []
        for _ in range(3):
            refused = await resend(api, phone)
            waits.append(refused["retryAfterSeconds"])
            await asyncio.sleep(refused["retryAfterSeconds"] + 0.05)
            assert (await resend(api, phone))["__typename"] == "VerificationSent"
        capped = await resend(api, phone)
    assert waits == [1, 2, 3]
    assert capped["retryAfterSeconds"] <= 3


async def test_resends_refused_by_the_wait_do_not_spend_the_phones_budget(make_settings, start_app):
    # given the default per-phone budget (5 per 10 minutes) and a one-second wait
    settings = make_settings(RESEND_COOLDOWN_SECONDS="1", RATE_LIMITS="sms_per_client=1000/minute")
    async with start_app(settings) as api:
        phone = new_phone()
        await signup(api, phone)
        # when an attacker hammers resend inside the wait
        hammered = [await resend(api, phone) for _ in range(20)]
        await asyncio.sleep(1.1)
        # then the owner still gets a code
        owner = await resend(api, phone)
    assert {a["__typename"] for a in hammered} == {"RateLimited"}
    assert owner["__typename"] == "VerificationSent"


# --- budgets -----------------------------------------------------------------------------


async def test_at_most_five_sms_per_phone_in_ten_minutes(make_settings, start_app):
    # given the default per-phone budget and no resend wait
    settings = make_settings(RESEND_COOLDOWN_SECONDS="0", RATE_LIMITS="sms_per_client=100/minute")
    async with start_app(settings) as api:
        phone = new_phone()
        answers = [await signup(api, phone)] + [await resend(api, phone) for _ in range(7)]
        queued = await sms_queued(phone)
    kinds = [a["__typename"] for a in answers]
    assert kinds == ["VerificationSent"] * 5 + ["RateLimited"] * 3
    assert all(590 <= a["retryAfterSeconds"] <= 600 for a in answers[5:])
    assert queued == 5 and len(api.sms.to(phone)) <= 5  # a newer code may supersede one


async def test_at_most_ten_sms_per_phone_a_day(make_settings, start_app):
    settings = make_settings(
        RESEND_COOLDOWN_SECONDS="0",
        RATE_LIMITS="sms_per_client=100/minute,sms_per_phone=100/10 minutes;10/day",
    )
    async with start_app(settings) as api:
        phone = new_phone()
        answers = [await signup(api, phone)] + [await resend(api, phone) for _ in range(11)]
    kinds = [a["__typename"] for a in answers]
    assert kinds == ["VerificationSent"] * 10 + ["RateLimited"] * 2
    assert answers[-1]["retryAfterSeconds"] > 86_000


async def test_sms_sending_operations_are_capped_per_client(api):
    # given the default cap of 10 per 10 minutes, each request for another phone
    kinds = []
    for i in range(12):
        if i % 2:
            answer = await api.run(d.REQUEST_RESET, {"phone": new_phone()})
        else:
            answer = await signup(api, new_phone())
        kinds.append(answer["__typename"])
    assert "RateLimited" not in kinds[:10] and kinds[10:] == ["RateLimited"] * 2


async def test_a_burst_to_one_number_block_is_held_back_and_logged(
    make_settings, start_app, caplog
):
    caplog.set_level(logging.WARNING, logger="phonegate.limits")
    settings = make_settings(RATE_LIMITS="sms_per_client=1000/minute")
    async with start_app(settings) as api:
        # given the default 20 per 10 minutes for numbers sharing all but their last 3 digits
        block = block_of(22)
        before = rate_limited_count("sms_per_prefix")
        kinds = [(await signup(api, phone))["__typename"] for phone in block]
        elsewhere = await signup(api, new_phone("212"))
        queued = await sms_queued(*block)
    assert kinds == ["VerificationSent"] * 20 + ["RateLimited"] * 2
    assert elsewhere["__typename"] == "VerificationSent"
    assert queued == 20
    assert "burst of SMS to one number block held back" in caplog.text
    assert rate_limited_count("sms_per_prefix") == before + 2


async def test_the_global_sms_budget_stops_sending_logs_an_error_and_counts(
    make_settings, start_app, caplog
):
    caplog.set_level(logging.ERROR, logger="phonegate.limits")
    settings = make_settings(RATE_LIMITS=limits(sms_global="3/hour"))
    async with start_app(settings) as api:
        phones = [new_phone(area) for area in ("212", "305", "415", "617", "206")]
        before = rate_limited_count("sms_global")
        answers = [await signup(api, phone) for phone in phones]
        await drained(*phones)
    kinds = [a["__typename"] for a in answers]
    assert kinds == ["VerificationSent"] * 3 + ["RateLimited"] * 2
    assert all(3500 < a["retryAfterSeconds"] <= 3600 for a in answers[3:])
    assert len(api.sms.messages) == 3
    assert [r.levelname for r in caplog.records if "global SMS budget" in r.message] == ["ERROR"]
    assert rate_limited_count("sms_global") == before + 2


# --- where SMS may go --------------------------------------------------------------------


async def test_numbers_outside_the_allowed_countries_get_invalid_input_and_no_sms(
    make_settings, start_app
):
    async with start_app(make_settings(SMS_ALLOWED_COUNTRIES="US")) as api:
        answers = []
        for phone in (GB_MOBILE, CA_MOBILE):
            answers += [
                await signup(api, phone),
                await resend(api, phone),
                await api.run(d.REQUEST_RESET, {"phone": phone}),
                await api.run(d.LOGIN, {"input": {"identifier": phone, "password": "x"}}),
            ]
        allowed = await signup(api, new_phone())
        await asyncio.sleep(0.1)
        assert await sms_queued(GB_MOBILE, CA_MOBILE) == 0
    assert all(a["__typename"] == "InvalidInput" for a in answers)
    assert {a["field"] for a in answers} == {"phone", "identifier"}
    assert allowed["__typename"] == "VerificationSent"


@pytest.mark.parametrize(
    "phone",
    [
        "+19002345678",  # premium rate (US 900)
        "+33884012345",  # shared cost (FR)
        "+18002345678",  # toll free (US 800)
        "+445612345678",  # VoIP (GB 056)
        "+447640123456",  # pager (GB 076)
        "+445512345678",  # UAN (GB 055)
        "+441212345678",  # landline (GB)
    ],
    ids=["premium", "shared-cost", "toll-free", "voip", "pager", "uan", "landline"],
)
async def test_numbers_that_are_no_ones_mobile_get_no_sms(api, phone):
    answers = [
        await signup(api, phone),
        await resend(api, phone),
        await api.run(d.REQUEST_RESET, {"phone": phone}),
    ]
    await asyncio.sleep(0.05)
    assert {(a["__typename"], a["field"]) for a in answers} == {("InvalidInput", "phone")}
    assert await sms_queued(phone) == 0


async def test_twilio_magic_numbers_are_phones(api):
    answer = await signup(api, f"+1500555{secrets.randbelow(10_000):04d}")
    assert answer["__typename"] == "VerificationSent"


# --- several workers ---------------------------------------------------------------------


async def test_workers_share_limits_through_redis(make_settings, start_app, redis_url):
    # given the default resend wait and per-phone budget in Redis, one client address
    settings = make_settings(RATE_LIMIT_STORAGE=redis_url, RESEND_COOLDOWN_SECONDS="0")
    peer = (f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.9", 40000)
    phone = new_phone()
    # when one worker sends the phone five codes, and then another worker is asked
    # (one after the other: Tortoise keeps one set of connections per process)
    async with start_app(settings, client=peer) as first:
        spent = [await signup(first, phone)] + [await resend(first, phone) for _ in range(4)]
    async with start_app(settings, client=peer) as second:
        refused = await resend(second, phone)
    # then the second worker knows the phone's budget is spent
    assert [a["__typename"] for a in spent] == ["VerificationSent"] * 5
    assert refused["__typename"] == "RateLimited" and 500 < refused["retryAfterSeconds"] <= 600
