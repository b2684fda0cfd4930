"""Prometheus metrics shared by every layer (exposed at /metrics by main.py)."""

from prometheus_client import Counter, Histogram

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
    "HTTP request latency",
    ["path"],
)
