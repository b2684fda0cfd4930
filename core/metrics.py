"""Prometheus metrics shared by every layer, and their exposition.

With several worker processes every metric is kept in files under PROMETHEUS_MULTIPROC_DIR
(server/supervisor.py sets it up before the workers start) and a scrape adds up all workers' files;
with one process they live in memory. The outbox gauges are sampled from the database by
each worker (``sample_outbox``); the most recent sample wins.
"""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OPERATIONS = Counter(
    "phonegate_operations_total", "GraphQL operations by field and result type", ["name", "result"]
)
RATE_LIMITED = Counter("phonegate_rate_limited_total", "Refusals by rate limit", ["limit"])
SMS = Counter("phonegate_sms_total", "Messages by action type and outcome", ["action", "outcome"])
HASH_WAIT = Histogram(
    "phonegate_password_hash_queue_seconds",
    "Time a password hash waited for a thread",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REQUEST_SECONDS = Histogram(
    "phonegate_request_seconds",
    "HTTP request latency by path and GraphQL root field",
    ["path", "operation"],
    buckets=LATENCY_BUCKETS,
)
UNAVAILABLE = Counter(
    "phonegate_dependency_unavailable_total",
    "Requests answered UNAVAILABLE and failed background passes, by dependency",
    ["dependency"],
)
SLOW_CLIENTS = Counter(
    "phonegate_slow_connections_closed_total",
    "Connections closed because headers or body did not arrive in time, or over the limit",
    ["reason"],
)
OUTBOX_DEPTH = Gauge(
    "phonegate_outbox_depth",
    "Messages waiting to be sent (queued or being sent)",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "phonegate_outbox_oldest_age_seconds",
    "Age of the oldest message waiting to be sent (0 when none waits)",
    multiprocess_mode="mostrecent",
)


def exposition() -> bytes:
    """The Prometheus text of every metric, from all workers when there are several."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return _generate(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return _generate(registry)


async def sample_outbox(at: datetime) -> None:
    """Set the outbox gauges from the database (one indexed aggregate query)."""
    from tortoise.functions import Count, Min

    from models import OutboxMessage

    row = (
        await OutboxMessage.filter(state__in=("queued", "sending"))
        .annotate(depth=Count("id"), oldest=Min("created_at"))
        .first()
        .values("depth", "oldest")
    )
    depth = int(row["depth"]) if row else 0
    oldest = row["oldest"] if row else None
    OUTBOX_DEPTH.set(depth)
    OUTBOX_OLDEST_SECONDS.set(max((at - oldest).total_seconds(), 0.0) if oldest else 0.0)
