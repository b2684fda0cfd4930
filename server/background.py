"""The app's background loops: maintenance (purges) and housekeeping (gauges, memory)."""

from __future__ import annotations

import asyncio
import logging

from core import metrics
from core.clock import now
from resolvers.deps import Deps
from resolvers.maintenance import purge
from server.memory import return_freed_memory

log = logging.getLogger("phonegate")
MAINTENANCE_SECONDS = 600
HOUSEKEEPING_SECONDS = 5


async def housekeeping() -> None:
    """Every few seconds: the outbox gauges, and freed memory handed back to the OS."""
    while True:
        try:
            await metrics.sample_outbox(now())
        except Exception:
            log.exception("outbox metrics sample failed")
        return_freed_memory()
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def maintain(deps: Deps) -> None:
    while True:
        try:
            await purge(deps)
        except Exception:
            log.exception("maintenance pass failed")
        await asyncio.sleep(MAINTENANCE_SECONDS)
