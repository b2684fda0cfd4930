"""A dependency that did not answer: the one exception every layer may raise for an outage.

Raised where a call to the database or to the rate-limit storage failed to connect, or ran
past its bound (DATABASE_TIMEOUT_SECONDS, RATE_LIMIT_TIMEOUT_SECONDS). It lives on the
bottom floor because the database's own client (models/postgres.py) raises it; the flows
re-export it from resolvers/errors.py, and the GraphQL layer answers it with an error whose
``extensions.code`` is ``UNAVAILABLE``.
"""

from __future__ import annotations

from tortoise.exceptions import OperationalError


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
