"""Rate limits with the ``limits`` library: in memory, or in Redis shared by every worker.

Each named limit has one or more tiers ("5/10 minutes;10/day"), each a moving window.
``hit`` counts one event before any work is done, or refuses (counting nothing) with the
wait until every full tier has room again; ``test`` only looks (for counters that grow on
failure, such as wrong passwords per account). Defaults can be overridden with
RATE_LIMITS="name=spec,name=spec".

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
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import Storage
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


@contextmanager
def _bounded() -> Iterator[None]:
    """Redis's failures (a timeout, a refused or dropped connection) as one typed outage."""
    try:
        yield
    except (RedisError, OSError) as e:  # redis' TimeoutError and ConnectionError included
        raise DependencyUnavailable(STORAGE, e) from e


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

    async def hit(self, name: str, *keys: str) -> None:
        """Count one event; RateLimitExceeded, counting nothing, when a tier is full.
        DependencyUnavailable when the storage does not answer in time.

        The first tier needs no test of its own: a moving-window hit is an atomic check
        and count that counts nothing when the window is full. The other tiers are looked
        at first, so that a refusal by any tier counts in none: one Redis round trip per
        tier instead of two.
        """
        with _bounded():
            await self._hit(name, *keys)

    async def _hit(self, name: str, *keys: str) -> None:
        first, *others = self.items[name]
        full = [item for item in others if not await self.limiter.test(item, name, *keys)]
        if full:
            if not await self.limiter.test(first, name, *keys):
                full.append(first)  # the wait reported is the longest of the full tiers
            raise await self._refusal(name, full, keys)
        if not await self.limiter.hit(first, name, *keys):
            raise await self._refusal(name, [first], keys)
        for item in others:
            if not await self.limiter.hit(item, name, *keys):  # filled since the test
                raise await self._refusal(name, [item], keys)

    async def test(self, name: str, *keys: str) -> None:
        """RateLimitExceeded when a tier is full; counts nothing."""
        with _bounded():
            full = [i for i in self.items[name] if not await self.limiter.test(i, name, *keys)]
            if full:
                raise await self._refusal(name, full, keys)

    async def clear(self, name: str, *keys: str) -> None:
        with _bounded():
            for item in self.items[name]:
                await self.limiter.clear(item, name, *keys)

    async def _refusal(
        self, name: str, full: list[RateLimitItem], keys: tuple[str, ...]
    ) -> RateLimitExceeded:
        """The refusal, with the wait until the last of the full tiers frees a place."""
        resets = [(await self.limiter.get_window_stats(i, name, *keys)).reset_time for i in full]
        metrics.RATE_LIMITED.labels(limit=name).inc()
        if name in ALERTS:
            self._alert(name, full[0])
        return RateLimitExceeded(math.ceil(max(resets) - time.time()))

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


def _storage(url: str, pool: ConnectionPool | None) -> Storage:
    if pool is None:
        storage = storage_from_string("async+memory://")
    else:  # our pool, so that close() can end its connections
        options: dict[str, Any] = {"implementation": "redispy", "connection_pool": pool}
        # Any: limits types its options as scalars, but passes a connection_pool through.
        storage = storage_from_string(f"async+{url}", **options)
    assert isinstance(storage, Storage)
    return storage
