"""Rate limits with the ``limits`` library: in memory, or in Redis shared by every worker.

Each named limit has one or more tiers ("5/10 minutes;10/day"). ``hit`` counts before any
work is done and refuses with the truthful wait; ``test`` only looks (for counters that grow
on failure, such as wrong passwords per account). Defaults can be overridden with
RATE_LIMITS="name=spec,name=spec".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from resolvers import metrics
from resolvers.errors import RateLimitExceeded

log = logging.getLogger("phonegate.limits")

DEFAULTS: dict[str, str] = {
    # SMS that anybody can cause, per destination phone, per client address, per block of
    # neighbouring numbers (pumping runs through number ranges) and for the whole service.
    "sms_per_phone": "5/10 minutes;10/day",
    "sms_per_client": "10/10 minutes;30/day",
    "sms_per_prefix": "20/10 minutes;100/day",
    "sms_global": "1000/hour",
    # Code guesses and logins per client address (all attempts, counted before the work).
    "verify_per_client": "30/10 minutes;200/day",
    "login_per_client": "20/10 minutes;200/day",
    # Failed code or password attempts per account across resends (NIST: <= 100 a day);
    # past it only an SMS reset works. Cleared by a successful login or reset.
    "failures_per_account": "100/day",
    # Wrong passwords per account: growing waits against guessing from many addresses.
    "password_failures_per_account": "5/minute;20/hour",
    # Authenticated operations that send SMS or check the password, per account.
    "account_ops": "10/10 minutes;50/day",
}


class RateLimits:
    def __init__(self, storage_url: str, overrides: str = "") -> None:
        self.storage: Storage = _storage(storage_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        specs = {**DEFAULTS, **_parse_overrides(overrides)}
        self.items: dict[str, list[RateLimitItem]] = {
            name: parse_many(spec.replace(";", ",")) for name, spec in specs.items()
        }

    async def hit(self, name: str, *keys: str) -> None:
        """Count one event; RateLimitExceeded (not counted) when a tier is full."""
        for item in self.items[name]:
            if not await self.limiter.hit(item, name, *keys):
                raise await self._refusal(name, item, keys)

    async def test(self, name: str, *keys: str) -> None:
        """RateLimitExceeded when a tier is full; counts nothing."""
        for item in self.items[name]:
            if not await self.limiter.test(item, name, *keys):
                raise await self._refusal(name, item, keys)

    async def clear(self, name: str, *keys: str) -> None:
        for item in self.items[name]:
            await self.limiter.clear(item, name, *keys)

    async def _refusal(
        self, name: str, item: RateLimitItem, keys: tuple[str, ...]
    ) -> RateLimitExceeded:
        stats = await self.limiter.get_window_stats(item, name, *keys)
        metrics.RATE_LIMITED.labels(limit=name).inc()
        if name == "sms_global":
            log.error("global SMS budget %s reached: SMS sending refused", item)
        elif name == "sms_per_prefix":
            log.warning("burst of SMS to one number block held back (%s)", item)
        return RateLimitExceeded(math.ceil(stats.reset_time - time.time()))

    async def ping(self) -> bool:
        return bool(await self.storage.check())

    async def reset(self) -> None:
        await self.storage.reset()


def _storage(url: str) -> Storage:
    uri = "async+memory://" if url.startswith("memory") else f"async+{url}"
    options = {} if url.startswith("memory") else {"implementation": "redispy"}
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, Storage)
    return storage


def _parse_overrides(text: str) -> Mapping[str, str]:
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    overrides = {name.strip(): spec.strip() for name, spec in pairs}
    unknown = overrides.keys() - DEFAULTS.keys()
    if unknown:
        raise ValueError(f"RATE_LIMITS names unknown limits: {', '.join(sorted(unknown))}")
    return overrides
