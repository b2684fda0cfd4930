"""The app's background loops: maintenance (purges) and housekeeping (gauges, memory)."""

from __future__ import annotations

import asyncio
import logging

from core import metrics
from core.clock import now
from resolvers.deps import Deps
from resolvers.errors import DependencyUnavailable
from resolvers.maintenance import purge
from server.memory import return_freed_memory

log = logging.getLogger("phonegate")
MAINTENANCE_SECONDS = 600
MAINTENANCE_RETRY_SECONDS = 30  # after a failed pass (database down): soon, not in 10 min
HOUSEKEEPING_SECONDS = 5


async def housekeeping() -> None:
    """Every few seconds: the outbox gauges, and freed memory handed back to the OS."""
    while True:
        try:
            await metrics.sample_outbox(now())
        except DependencyUnavailable as e:  # an outage: one line, no traceback every 5 s
            log.warning("outbox metrics sample failed: %s", e)
        except Exception:
            log.exception("outbox metrics sample failed")
        return_freed_memory()
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def maintain(deps: Deps, retry_seconds: float = MAINTENANCE_RETRY_SECONDS) -> None:
    while True:
        try:
            await purge(deps)
        except DependencyUnavailable as e:
            metrics.UNAVAILABLE.labels(dependency=e.name).inc()
            log.warning("maintenance pass failed: %s; next try in %ss", e, retry_seconds)
            await asyncio.sleep(retry_seconds)
        except Exception:
            log.exception("maintenance pass failed; next try in %ss", retry_seconds)
            await asyncio.sleep(retry_seconds)
        else:
            await asyncio.sleep(MAINTENANCE_SECONDS)
