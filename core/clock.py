"""The one source of the current time (UTC, aware), so tests can read it in one place."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
