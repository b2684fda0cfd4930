"""Rate limits: moving windows that refuse without counting, a truthful wait, the checks of
one request in order (one Redis script), exactly k of N parallel requests under a limit of k,
overrides, defaults that meet the security checklist, limits shared through Redis, alerts.
The behaviours run on both storages: in memory (one by one) and on Redis (one script)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import REGISTRY

from core.limit_specs import DEFAULTS, parse_limits
from resolvers.errors import RateLimitExceeded
from resolvers.guards import client_key
from resolvers.limits import Check, RateLimits, hit, look
from tests.conftest import reachable_redis

Make = Callable[[str], RateLimits]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """RateLimits with overrides, in memory or on the tests' Redis (closed afterwards)."""
    url = "memory://" if request.param == "memory" else await reachable_redis()
    made: list[RateLimits] = []

    def make_(overrides: str) -> RateLimits:
        made.append(RateLimits(url, overrides))
        return made[-1]

    yield make_
    for limits in made:
        await limits.close()


@pytest.fixture
def key() -> str:
    """A key no other run counts on (Redis is shared between runs)."""
    return f"k-{secrets.token_hex(8)}"


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


async def test_a_limit_refuses_past_its_count_with_the_wait_until_a_place_frees(
    make: Make, key: str
) -> None:
    limits = make("sms_per_phone=3/minute")
    outcomes = await hits(limits, "sms_per_phone", key, 4)
    assert outcomes[:3] == [None] * 3
    assert outcomes[3] is not None and 58 <= outcomes[3] <= 60


async def test_a_refused_hit_is_not_counted(make: Make, key: str) -> None:
    limits = make("sms_per_phone=2/2 seconds")
    first = await hits(limits, "sms_per_phone", key, 12)
    await asyncio.sleep(2.05)
    later = await hits(limits, "sms_per_phone", key, 3)
    assert first == [None, None, *([first[2]] * 10)] and first[2] in (1, 2)
    assert later[:2] == [None, None] and later[2] is not None


async def test_the_wait_is_that_of_the_last_full_tier(make: Make, key: str) -> None:
    limits = make("sms_per_phone=1/minute;1/hour")
    outcomes = await hits(limits, "sms_per_phone", key, 2)
    assert outcomes[0] is None and outcomes[1] is not None and outcomes[1] > 3500


async def test_a_refusal_by_a_later_tier_counts_in_no_tier(make: Make, key: str) -> None:
    limits = make("sms_per_phone=5/minute;1/hour")
    outcomes = await hits(limits, "sms_per_phone", key, 6)
    assert outcomes[0] is None and all(o is not None and o > 3500 for o in outcomes[1:])
    minute, _ = limits.items["sms_per_phone"]
    stats = await limits.limiter.get_window_stats(minute, "sms_per_phone", key)
    assert stats.remaining == 4  # only the hit that passed


async def test_when_several_tiers_are_full_the_wait_is_the_longest(make: Make, key: str) -> None:
    limits = make("sms_per_phone=1/hour;1/minute")
    outcomes = await hits(limits, "sms_per_phone", key, 2)
    assert outcomes[0] is None and outcomes[1] is not None and outcomes[1] > 3500


async def test_test_counts_nothing_and_clear_forgets(make: Make, key: str) -> None:
    limits = make("failures_per_account=2/minute")
    for _ in range(10):
        await limits.test("failures_per_account", key)
    assert await hits(limits, "failures_per_account", key, 3) == [
        None,
        None,
        pytest.approx(60, abs=2),
    ]
    with pytest.raises(RateLimitExceeded):
        await limits.test("failures_per_account", key)
    await limits.clear("failures_per_account", key)
    await limits.test("failures_per_account", key)


async def test_keys_are_counted_apart(make: Make, key: str) -> None:
    limits = make("login_per_client=1/minute")
    assert await hits(limits, "login_per_client", key + "a", 1) == [None]
    assert await hits(limits, "login_per_client", key + "b", 1) == [None]


async def test_checks_after_a_refusal_are_not_looked_at_and_those_before_stay_counted(
    make: Make, key: str
) -> None:
    # given: a per-client budget with room, a per-phone budget already spent
    limits = make("sms_per_client=5/minute;9/hour,sms_per_phone=1/minute,sms_per_prefix=3/minute")
    await limits.hit("sms_per_phone", key)
    # when: a request checks client, phone, prefix in one go
    with pytest.raises(RateLimitExceeded) as refused:
        await limits.check(
            hit("sms_per_client", key), hit("sms_per_phone", key), hit("sms_per_prefix", key)
        )
    # then: refused with the phone's wait; the client counted, the prefix untouched
    assert 55 <= refused.value.retry_after <= 60
    assert await hits(limits, "sms_per_client", key, 5) == [None] * 4 + [pytest.approx(60, abs=2)]
    assert await hits(limits, "sms_per_prefix", key, 4) == [None] * 3 + [pytest.approx(60, abs=2)]


async def test_a_check_that_does_not_refuse_answers_false_and_counts_in_no_tier(
    make: Make, key: str
) -> None:
    # given: the minute tier full, the hour tier with room
    limits = make("password_failures_per_account=2/minute;10/hour,login_per_client=3/minute")
    await hits(limits, "password_failures_per_account", key, 2)
    soft = Check("password_failures_per_account", (key,), refuses=False)
    # when: a soft count, a look and another limit's count in one go
    answers = await limits.check(
        soft, Check(soft.name, soft.keys, counts=False, refuses=False), hit("login_per_client", key)
    )
    # then: False twice, the next check still counted; the hour tier counted only 2
    assert answers == [False, False, True]
    _, hour = limits.items["password_failures_per_account"]
    stats = await limits.limiter.get_window_stats(hour, "password_failures_per_account", key)
    assert stats.remaining == 8
    assert await hits(limits, "login_per_client", key, 3) == [None, None, pytest.approx(60, abs=2)]


async def test_forget_empties_every_tier_of_every_limit_named(make: Make, key: str) -> None:
    limits = make("failures_per_account=1/minute,password_failures_per_account=1/minute;1/hour")
    await limits.check(hit("failures_per_account", key), hit("password_failures_per_account", key))
    await limits.forget(
        look("failures_per_account", key), look("password_failures_per_account", key)
    )
    assert await limits.check(
        hit("failures_per_account", key), hit("password_failures_per_account", key)
    ) == [True, True]


async def test_of_n_parallel_requests_under_a_limit_of_k_exactly_k_pass(
    make: Make, key: str
) -> None:
    # given: four workers' limits on Redis (one process's in memory), a phone allowed 5
    workers = [make("sms_per_client=40/minute,sms_per_phone=5/minute;7/hour") for _ in range(4)]
    workers = workers if workers[0].pool is not None else workers[:1]

    async def one(index: int) -> bool:
        try:
            await workers[index % len(workers)].check(
                hit("sms_per_client", key), hit("sms_per_phone", key), look("sms_global")
            )
        except RateLimitExceeded:
            return False
        return True

    # when: 30 requests at once
    passed = await asyncio.gather(*(one(i) for i in range(30)))
    # then: exactly 5 pass; every request counted once per client, the refused ones per phone
    # in no tier
    assert sum(passed) == 5
    _, hour = workers[0].items["sms_per_phone"]
    assert (await workers[0].limiter.get_window_stats(hour, "sms_per_phone", key)).remaining == 2
    (client,) = workers[0].items["sms_per_client"]
    assert (
        await workers[0].limiter.get_window_stats(client, "sms_per_client", key)
    ).remaining == 10


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


async def test_forgetting_while_the_memory_expiry_runs_logs_no_error_and_no_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """limits' own memory clear raced its expiry task: the task died with a KeyError that
    asyncio logged with the key, a phone number (tests/test_ops_logs.py caught it)."""
    limits = RateLimits("memory://", "password_failures_per_account=5/minute;20/hour")
    phones = [f"+1415555{i:04d}" for i in range(40)]
    with caplog.at_level(logging.ERROR):
        for _ in range(20):
            for phone in phones:  # many keys: the expiry task lists them, then awaits each
                await limits.check(hit("password_failures_per_account", phone))
            await asyncio.sleep(0)
            for phone in phones:
                await limits.forget(look("password_failures_per_account", phone))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(p in caplog.text for p in phones)
    await limits.close()
