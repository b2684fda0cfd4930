"""From a flow's DomainError to the member of a result union that means the same."""

from __future__ import annotations

from typing import Any

from resolvers import errors as e
from resolvers.messages import translate
from schema import types as t
from schema.context import Info

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


def to_result(error: e.DomainError, info: Info | None = None) -> Any:
    """The contract's error type for ``error`` (union membership is checked by Strawberry),
    its message in the language of the request's Accept-Language."""
    message = said(error.text, info)
    if isinstance(error, e.InputRejected):
        return t.InvalidInput(message=message, field=error.field)
    if isinstance(error, e.RateLimitExceeded):
        return t.RateLimited(message=message, retry_after_seconds=error.retry_after)
    return SIMPLE[type(error)](message=message)


def not_authenticated(info: Info) -> Any:
    """The answer to a caller without a valid access token, in the request's language."""
    return to_result(e.AuthRequired(), info)


def said(text: str, info: Info | None) -> str:
    """A message for the person, in the request's language (resolvers/messages.py)."""
    return translate(text, info.context.client.accept_language if info else None)
