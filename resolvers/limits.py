"""Rate limits with the ``limits`` library: in memory, or in Redis shared by every worker.

Each named limit has one or more tiers ("5/10 minutes;10/day"), each a moving window.
A request names the limits it checks, in order, as ``Check``s, and ``check`` evaluates
them: a counting check counts one event in every tier before any work is done, or is
refused (counting in no tier) with the wait until every full tier has room again; a
looking check only looks (for counters that grow on failure, such as wrong passwords per
account). A refused check that ``refuses`` raises RateLimitExceeded and the checks after it
are not looked at (the ones before it stay counted); one that does not is answered False
and the next is checked. Defaults can be overridden with RATE_LIMITS="name=spec,name=spec".

One round trip per request: on Redis, ``check`` runs every check of the request in one Lua
script (BATCH_SCRIPT), built from the moving-window scripts of ``limits``' own Redis storage,
so the keys, the windows and the arithmetic are the library's; the script runs atomically,
so N parallel requests under a limit of k see exactly k places, and a tier cannot fill
between another tier's look and its own count. In memory (tests, a single process),
the checks run one by one through ``limits``' MovingWindowRateLimiter, with the same
answers.

Every call to Redis is bounded (RATE_LIMIT_TIMEOUT_SECONDS: connecting and each reply);
past the bound, or when Redis refuses or drops the connection, the call raises
``DependencyUnavailable("rate-limit storage")``: limits fail closed, a request that a
limit guards is never run unguarded.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from core import metrics
from core.limit_specs import parse_limits
from resolvers.errors import DependencyUnavailable, RateLimitExceeded

log = logging.getLogger("phonegate.limits")


# Refusals that mean an attack or an outage rather than one client's haste.
ALERTS: dict[str, tuple[int, str]] = {
    "sms_global": (logging.ERROR, "global SMS budget %s spent: SMS sending refused"),
    "sms_per_prefix": (logging.WARNING, "burst of SMS to one number block held back (%s)"),
}
ALERT_EVERY_SECONDS = 60.0
STORAGE = "rate-limit storage"
DEFAULT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    """One limit a request checks: ``counts`` one event (else only looks); ``refuses`` the
    request when full (else the check answers False and the next one is checked)."""

    name: str
    keys: tuple[str, ...] = ()
    counts: bool = True
    refuses: bool = True


def hit(name: str, *keys: str) -> Check:
    return Check(name, keys)


def look(name: str, *keys: str) -> Check:
    return Check(name, keys, counts=False)


# The checks of one request, in order. KEYS: every tier's key, check after check. ARGV[1]:
# the time; then per check: counts (1/0), refuses (1/0), its number of tiers, and per tier
# its amount and expiry. Answers per check evaluated: "" (room), or "<first full tier>:<the
# time the last full tier frees a place>". A tier is full when limits' moving_window counts
# `amount` entries in it (MovingWindowRateLimiter.test); a check with room in every tier
# counts in each with limits' acquire_moving_window. The two library scripts become local
# functions: their KEYS and ARGV are the functions' parameters.
BATCH_SCRIPT = """
local function moving_window(KEYS, ARGV)
{moving_window}
end
local function acquire_moving_window(KEYS, ARGV)
{acquire_moving_window}
end
local now = tonumber(ARGV[1])
local answers = {{}}
local k, a = 1, 2
while a <= #ARGV do
    local counts, refuses, tiers = ARGV[a] == '1', ARGV[a + 1] == '1', tonumber(ARGV[a + 2])
    a = a + 3
    local first_full, frees = nil, nil
    for t = 0, tiers - 1 do
        local amount, expiry = tonumber(ARGV[a + 2 * t]), tonumber(ARGV[a + 2 * t + 1])
        local window = moving_window({{KEYS[k + t]}}, {{now - expiry, amount}})
        if window and window[2] >= amount then
            local at = tonumber(window[1]) + expiry
            first_full = first_full or t
            if frees == nil or at > frees then frees = at end
        end
    end
    if first_full == nil and counts then
        for t = 0, tiers - 1 do
            local amount, expiry = ARGV[a + 2 * t], ARGV[a + 2 * t + 1]
            acquire_moving_window({{KEYS[k + t]}}, {{now, amount, expiry, 1}})
        end
    end
    if first_full == nil then
        answers[#answers + 1] = ''
    else
        answers[#answers + 1] = first_full .. ':' .. string.format('%.6f', frees)
        if refuses then return answers end
    end
    k, a = k + tiers, a + 2 * tiers
end
return answers
"""


@contextmanager
def _bounded() -> Iterator[None]:
    """Redis's failures (a timeout, a refused or dropped connection) as one typed outage."""
    try:
        yield
    except (RedisError, OSError) as e:  # redis' TimeoutError and ConnectionError included
        raise DependencyUnavailable(STORAGE, e) from e


@dataclass(frozen=True)
class _Full:
    """A refused check: its first full tier and when the last full tier frees a place."""

    item: RateLimitItem
    frees_at: float


class RateLimits:
    def __init__(
        self,
        storage_url: str,
        overrides: str = "",
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.pool = (
            None
            if storage_url.startswith("memory")
            else ConnectionPool.from_url(
                storage_url,
                socket_connect_timeout=timeout_seconds,
                socket_timeout=timeout_seconds,
                retry=Retry(NoBackoff(), 0),  # one try: a retry would double the wait
            )
        )
        self.storage: Storage = _storage(storage_url, self.pool)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.items = parse_limits(overrides)
        self._alerted: dict[str, float] = {}
        self._script = _batch_script(self.storage)
        # BATCH_SCRIPT's arguments of each limit, made once: its tier count, then per tier
        # its amount and expiry.
        self._tier_args: dict[str, list[int]] = {
            name: [len(tiers), *(n for i in tiers for n in (i.amount, i.get_expiry()))]
            for name, tiers in self.items.items()
        }

    async def check(self, *checks: Check) -> list[bool]:
        """Evaluate ``checks`` in order (see the module docstring): for each check evaluated,
        whether it had room. RateLimitExceeded at the first full one that refuses;
        DependencyUnavailable when the storage does not answer in time."""
        if not checks:
            return []
        with _bounded():
            fulls = await (self._scripted(checks) if self._script else self._one_by_one(checks))
        room = []
        for check, full in zip(checks, fulls, strict=False):
            if full is not None:
                refusal = self._refusal(check.name, full)
                if check.refuses:
                    raise refusal
            room.append(full is None)
        return room

    async def hit(self, name: str, *keys: str) -> None:
        """Count one event; RateLimitExceeded, counting nothing, when a tier is full."""
        await self.check(hit(name, *keys))

    async def test(self, name: str, *keys: str) -> None:
        """RateLimitExceeded when a tier is full; counts nothing."""
        await self.check(look(name, *keys))

    async def clear(self, name: str, *keys: str) -> None:
        await self.forget(Check(name, keys))

    async def forget(self, *checks: Check) -> None:
        """Empty every tier of ``checks`` (on Redis: one DEL of all their keys)."""
        with _bounded():
            if (bridge := _bridge(self.storage)) is not None:
                keys = [bridge.prefixed_key(key) for _, key in self._tiers(checks)]
                await bridge.get_connection().delete(*keys)
                return
            for check in checks:
                for item in self.items[check.name]:
                    await self.limiter.clear(item, check.name, *check.keys)

    def _tiers(self, checks: tuple[Check, ...]) -> Iterator[tuple[RateLimitItem, str]]:
        for check in checks:
            for item in self.items[check.name]:
                yield item, item.key_for(check.name, *check.keys)

    async def _scripted(self, checks: tuple[Check, ...]) -> list[_Full | None]:
        bridge = _bridge(self.storage)
        assert bridge is not None and self._script is not None
        args: list[Any] = [repr(time.time())]
        for check in checks:
            args += [int(check.counts), int(check.refuses), *self._tier_args[check.name]]
        keys = [bridge.prefixed_key(key) for _, key in self._tiers(checks)]
        answers = await self._script(keys=keys, args=args)
        return [
            None if not answer else self._full(check, answer)
            for check, answer in zip(checks, answers, strict=False)
        ]

    def _full(self, check: Check, answer: bytes) -> _Full:
        tier, frees_at = answer.decode().split(":")
        return _Full(self.items[check.name][int(tier)], float(frees_at))

    async def _one_by_one(self, checks: tuple[Check, ...]) -> list[_Full | None]:
        fulls: list[_Full | None] = []
        for check in checks:
            full = await (self._count(check) if check.counts else self._look(check))
            fulls.append(full)
            if full is not None and check.refuses:
                break
        return fulls

    async def _count(self, check: Check) -> _Full | None:
        """The first tier needs no look of its own: a moving-window hit is an atomic look and
        count that counts nothing when the window is full. The other tiers are looked at
        first, so that a refusal by any tier counts in none."""
        first, *others = self.items[check.name]
        full = [i for i in others if not await self.limiter.test(i, check.name, *check.keys)]
        if full:
            if not await self.limiter.test(first, check.name, *check.keys):
                full.insert(0, first)
            return await self._frees(check, full)
        for item in (first, *others):
            if not await self.limiter.hit(item, check.name, *check.keys):
                return await self._frees(check, [item])  # filled since the look
        return None

    async def _look(self, check: Check) -> _Full | None:
        tiers = self.items[check.name]
        full = [i for i in tiers if not await self.limiter.test(i, check.name, *check.keys)]
        return await self._frees(check, full) if full else None

    async def _frees(self, check: Check, full: list[RateLimitItem]) -> _Full:
        """The first full tier, and when the last of the full tiers frees a place."""
        stats = [await self.limiter.get_window_stats(i, check.name, *check.keys) for i in full]
        return _Full(full[0], max(s.reset_time for s in stats))

    def _refusal(self, name: str, full: _Full) -> RateLimitExceeded:
        metrics.RATE_LIMITED.labels(limit=name).inc()
        if name in ALERTS:
            self._alert(name, full.item)
        return RateLimitExceeded(math.ceil(full.frees_at - time.time()))

    def _alert(self, name: str, item: RateLimitItem) -> None:
        """Log a refusal that needs a person, at most once a minute per limit and process
        (every refusal is counted in phonegate_rate_limited_total)."""
        at = time.monotonic()
        if at - self._alerted.get(name, -ALERT_EVERY_SECONDS) < ALERT_EVERY_SECONDS:
            return
        self._alerted[name] = at
        level, text = ALERTS[name]
        log.log(level, text, item)

    async def ping(self) -> bool:
        return bool(await self.storage.check())

    async def close(self) -> None:
        """Close the Redis connections (the process keeps none open after shutdown)."""
        if self.pool is not None:
            await self.pool.aclose()


class _MemoryStorage(MemoryStorage):
    """limits' memory storage, with a ``clear`` that its expiry task survives.

    limits 5.8 ``clear`` pops a key's events and lock, while the storage's expiry task may
    have listed the keys and be waiting for that key's lock; it then reads the popped key,
    dies with a KeyError that nobody awaits, and asyncio logs it with the key, which holds a
    phone number (seen by tests/test_ops_logs.py). An emptied list instead is dropped by the
    expiry task itself; the lock stays for whoever holds it."""

    async def clear(self, key: str) -> None:
        if key in self.events:
            self.events[key] = []
        self.storage.pop(key, None)
        self.expirations.pop(key, None)


def _storage(url: str, pool: ConnectionPool | None) -> Storage:
    if pool is None:
        return _MemoryStorage()
    # our pool, so that close() can end its connections
    options: dict[str, Any] = {"implementation": "redispy", "connection_pool": pool}
    # Any: limits types its options as scalars, but passes a connection_pool through.
    storage = storage_from_string(f"async+{url}", **options)
    assert isinstance(storage, Storage)
    return storage


def _batch_script(storage: Storage) -> Any:
    """BATCH_SCRIPT registered on the storage's Redis client (no I/O: redis-py loads it on
    its first call); None for the memory storage. Any: redis-py's Script is untyped."""
    if (bridge := _bridge(storage)) is None:
        return None
    text = BATCH_SCRIPT.format(
        moving_window=bridge.SCRIPT_MOVING_WINDOW.decode(),
        acquire_moving_window=bridge.SCRIPT_ACQUIRE_MOVING_WINDOW.decode(),
    )
    return bridge.get_connection().register_script(text.encode())


def _bridge(storage: Storage) -> RedispyBridge | None:
    """The redis-py side of limits' Redis storage (the implementation _storage asks for)."""
    if not isinstance(storage, RedisStorage):
        return None
    assert isinstance(storage.bridge, RedispyBridge)
    return storage.bridge
