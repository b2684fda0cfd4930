"""From a flow's DomainError to the member of a result union that means the same."""

from __future__ import annotations

from typing import Any

from resolvers import errors as e
from schema import types as t

SIMPLE: dict[type[e.DomainError], type[Any]] = {
    e.PasswordTooWeak: t.WeakPassword,
    e.UsernameInUse: t.UsernameTaken,
    e.PhoneInUse: t.PhoneTaken,
    e.CodeInvalid: t.InvalidCode,
    e.CodeExpired: t.CodeExpired,
    e.CodeLocked: t.TooManyAttempts,
    e.CredentialsInvalid: t.InvalidCredentials,
    e.PhoneUnverified: t.PhoneNotVerified,
    e.AuthRequired: t.NotAuthenticated,
    e.TokenInvalid: t.InvalidToken,
}


def to_result(error: e.DomainError) -> Any:
    """The contract's error type for ``error`` (union membership is checked by Strawberry)."""
    if isinstance(error, e.InputRejected):
        return t.InvalidInput(message=error.text, field=error.field)
    if isinstance(error, e.RateLimitExceeded):
        return t.RateLimited(message=error.text, retry_after_seconds=error.retry_after)
    return SIMPLE[type(error)](message=error.text)
