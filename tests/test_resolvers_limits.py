"""Rate limits: moving windows that refuse without counting, a truthful wait, overrides,
defaults that meet the security checklist, limits shared through Redis, alerts."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest
from prometheus_client import REGISTRY

from core.limit_specs import DEFAULTS, parse_limits
from resolvers.errors import RateLimitExceeded
from resolvers.guards import client_key
from resolvers.limits import RateLimits


def refused_count(limit: str) -> float:
    return REGISTRY.get_sample_value("phonegate_rate_limited_total", {"limit": limit}) or 0.0


async def hits(limits: RateLimits, name: str, key: str, count: int) -> list[int | None]:
    """For each hit: None if it passed, else the wait it was refused with."""
    outcomes: list[int | None] = []
    for _ in range(count):
        try:
            await limits.hit(name, key)
            outcomes.append(None)
        except RateLimitExceeded as e:
            outcomes.append(e.retry_after)
    return outcomes


def tiers(name: str) -> list[tuple[int, int]]:
    """(amount, seconds) of each tier of a default limit."""
    limits = RateLimits("memory://")
    return [(item.amount, item.get_expiry()) for item in limits.items[name]]


async def test_a_limit_refuses_past_its_count_with_the_wait_until_a_place_frees():
    limits = RateLimits("memory://", "sms_per_phone=3/minute")
    outcomes = await hits(limits, "sms_per_phone", "+14155550123", 4)
    assert outcomes[:3] == [None] * 3
    assert outcomes[3] is not None and 58 <= outcomes[3] <= 60


async def test_a_refused_hit_is_not_counted():
    limits = RateLimits("memory://", "sms_per_phone=2/2 seconds")
    first = await hits(limits, "sms_per_phone", "k", 12)
    await asyncio.sleep(2.05)
    later = await hits(limits, "sms_per_phone", "k", 3)
    assert first == [None, None, *([first[2]] * 10)] and first[2] in (1, 2)
    assert later[:2] == [None, None] and later[2] is not None


async def test_the_wait_is_that_of_the_last_full_tier():
    limits = RateLimits("memory://", "sms_per_phone=1/minute;1/hour")
    outcomes = await hits(limits, "sms_per_phone", "k", 2)
    assert outcomes[0] is None and outcomes[1] is not None and outcomes[1] > 3500


async def test_a_refusal_by_a_later_tier_counts_in_no_tier():
    limits = RateLimits("memory://", "sms_per_phone=5/minute;1/hour")
    outcomes = await hits(limits, "sms_per_phone", "k", 6)
    assert outcomes[0] is None and all(o is not None and o > 3500 for o in outcomes[1:])
    minute, _ = limits.items["sms_per_phone"]
    stats = await limits.limiter.get_window_stats(minute, "sms_per_phone", "k")
    assert stats.remaining == 4  # only the hit that passed


async def test_when_several_tiers_are_full_the_wait_is_the_longest():
    limits = RateLimits("memory://", "sms_per_phone=1/hour;1/minute")
    outcomes = await hits(limits, "sms_per_phone", "k", 2)
    assert outcomes[0] is None and outcomes[1] is not None and outcomes[1] > 3500


async def test_test_counts_nothing_and_clear_forgets():
    limits = RateLimits("memory://", "failures_per_account=2/minute")
    for _ in range(10):
        await limits.test("failures_per_account", "k")
    assert await hits(limits, "failures_per_account", "k", 3) == [
        None,
        None,
        pytest.approx(60, abs=2),
    ]
    with pytest.raises(RateLimitExceeded):
        await limits.test("failures_per_account", "k")
    await limits.clear("failures_per_account", "k")
    await limits.test("failures_per_account", "k")


async def test_keys_are_counted_apart():
    limits = RateLimits("memory://", "login_per_client=1/minute")
    assert await hits(limits, "login_per_client", "a", 1) == [None]
    assert await hits(limits, "login_per_client", "b", 1) == [None]


@pytest.mark.parametrize("spec", ["abc", "5/fortnight", "", "5 per minute;x"])
def test_a_malformed_override_names_the_limit(spec):
    with pytest.raises(ValueError, match=f"RATE_LIMITS: sms_global='{spec}' is not like"):
        parse_limits(f"sms_global={spec}")


def test_overrides_name_known_limits_only():
    with pytest.raises(ValueError, match="unknown limits: sms_per_planet"):
        RateLimits("memory://", "sms_per_planet=1/minute")
    limits = RateLimits("memory://", " sms_global = 7/hour , sms_per_phone=1/minute;2/day ")
    assert [i.amount for i in limits.items["sms_global"]] == [7]
    assert [i.amount for i in limits.items["sms_per_phone"]] == [1, 2]


def test_the_defaults_meet_the_security_checklist():
    minute, day = 60, 86_400
    assert tiers("sms_per_phone") == [(5, 10 * minute), (10, day)]
    assert all(amount <= 100 for amount, seconds in tiers("failures_per_account") if seconds >= day)
    assert tiers("login_per_client")[0][0] < 40  # 40 failed logins from one client are limited
    assert tiers("password_failures_per_account")[0] == (5, minute)  # then growing waits
    assert set(DEFAULTS) >= {"sms_per_client", "sms_per_prefix", "sms_global", "verify_per_client"}


async def test_limits_are_shared_by_workers_through_redis(redis_url):
    # given two workers' limits on one Redis, and a key no other run uses
    first = RateLimits(redis_url, "sms_per_phone=3/minute")
    second = RateLimits(redis_url, "sms_per_phone=3/minute")
    key = f"+1415{secrets.randbelow(10**7):07d}-{time.time_ns()}"
    # when they count the same key in turn
    try:
        outcomes = [
            *await hits(first, "sms_per_phone", key, 1),
            *await hits(second, "sms_per_phone", key, 1),
            *await hits(first, "sms_per_phone", key, 1),
            *await hits(second, "sms_per_phone", key, 1),
        ]
        assert await first.ping()
    finally:
        await first.close()
        await second.close()
    # then the fourth is refused, whoever is asked
    assert outcomes[:3] == [None] * 3 and outcomes[3] is not None and 0 < outcomes[3] <= 60


async def test_a_spent_global_budget_is_logged_once_a_minute_and_each_refusal_counted(caplog):
    caplog.set_level(logging.ERROR, logger="phonegate.limits")
    limits = RateLimits("memory://", "sms_global=1/hour")
    before = refused_count("sms_global")
    outcomes = await hits(limits, "sms_global", "", 4)
    assert outcomes[0] is None and all(o is not None for o in outcomes[1:])
    assert refused_count("sms_global") == before + 3
    alerts = [r for r in caplog.records if "global SMS budget" in r.getMessage()]
    assert len(alerts) == 1 and alerts[0].levelno == logging.ERROR


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("unknown", "unknown"),
    ],
)
def test_clients_are_keyed_by_ipv4_address_or_ipv6_slash_64(address, key):
    assert client_key(address) == key
