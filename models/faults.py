"""A dependency that did not answer: the one exception every layer may raise for an outage.

Raised where a call to the database or to the rate-limit storage failed to connect, or ran
past its bound (DATABASE_TIMEOUT_SECONDS, RATE_LIMIT_TIMEOUT_SECONDS). It lives on the
bottom floor because the database's own client (models/postgres.py) raises it; the flows
re-export it from resolvers/errors.py, and the GraphQL layer answers it with an error whose
``extensions.code`` is ``UNAVAILABLE``.
"""

from __future__ import annotations


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
