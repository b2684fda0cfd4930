"""A dependency that did not answer: the one exception every layer may raise for an outage.

Raised where a call to the database or to the rate-limit storage failed to connect, or ran
past its bound (DATABASE_TIMEOUT_SECONDS, RATE_LIMIT_TIMEOUT_SECONDS). It lives on the
bottom floor because the database's own client (models/postgres.py) raises it; the flows
re-export it from resolvers/errors.py, and the GraphQL layer answers it with an error whose
``extensions.code`` is ``UNAVAILABLE``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tortoise.exceptions import OperationalError

# A database call never gets less than this, however late in its request it starts: a
# request slowed by load (a queue for the password hash, a busy pool) is not failed for it
# while the database answers.
SHORTEST_WAIT_SECONDS = 0.5
_answer_by: ContextVar[float | None] = ContextVar("phonegate_answer_by", default=None)


class DependencyUnavailable(Exception):
    """``name``: the dependency in words ("database", "rate-limit storage")."""

    def __init__(self, name: str, cause: BaseException | None = None) -> None:
        self.name = name
        self.cause = type(cause).__name__ if cause is not None else "unknown"
        super().__init__(f"the {name} is not answering ({self.cause})")

    @property
    def advice(self) -> str:
        """What a person can do about it, for the client."""
        return f"The {self.name} is not answering: try again in a moment."


def outage_of(error: BaseException | None) -> DependencyUnavailable | None:
    """The outage an error stands for, or None for any other error.

    Besides ``DependencyUnavailable`` itself: SQLite's "database is locked", raised once
    another writer held the database past its busy timeout (DATABASE_TIMEOUT_SECONDS), which
    is SQLite's way of saying that the database did not answer in time.
    """
    if isinstance(error, DependencyUnavailable):
        return error
    if isinstance(error, OperationalError) and "database is locked" in str(error):
        return DependencyUnavailable("database", TimeoutError())
    return None


@contextmanager
def answering_within(seconds: float | None) -> Iterator[None]:
    """The request being served answers within ``seconds`` (None: no deadline): each wait on
    the database in it (models/postgres.py) is shortened to what is left, so a request that
    spent time before its database call still gets its UNAVAILABLE in time."""
    token = _answer_by.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _answer_by.reset(token)


def wait_within(bound: float | None) -> float | None:
    """``bound`` shortened to what is left of the request's deadline (never below
    SHORTEST_WAIT_SECONDS); ``bound`` itself outside a request or without one."""
    answer_by = _answer_by.get()
    if answer_by is None or bound is None:
        return bound
    return min(bound, max(answer_by - time.monotonic(), SHORTEST_WAIT_SECONDS))
