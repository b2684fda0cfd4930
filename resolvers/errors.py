"""Every expected failure of a flow, each its own small class carrying data.

DomainError
 ├── InputRejected(field, message)     bad phone, username, code format ...
 ├── PasswordTooWeak(message)
 ├── UsernameInUse / PhoneInUse
 ├── CodeInvalid / CodeExpired / CodeLocked
 ├── RateLimitExceeded(retry_after)
 ├── CredentialsInvalid / PhoneUnverified
 └── AuthRequired / TokenInvalid

The GraphQL layer maps each to the contract's type of the same meaning; anything else that
escapes a flow is a fault and is masked.

Outside the tree, because it is no answer about the request but about the service:
DependencyUnavailable(name), raised by the database client and the rate limits when a
dependency does not answer within its bound; the GraphQL layer answers it with an error
whose ``extensions.code`` is ``UNAVAILABLE``. The flows let it pass.
"""

from __future__ import annotations

from models.faults import DependencyUnavailable as DependencyUnavailable  # re-exported
from models.faults import outage_of as outage_of  # re-exported


class DomainError(Exception):
    message = "Request refused."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)

    @property
    def text(self) -> str:
        return str(self.args[0])


class InputRejected(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PasswordTooWeak(DomainError):
    message = "Choose a stronger password."


class UsernameInUse(DomainError):
    message = "That username is taken."


class PhoneInUse(DomainError):
    message = "That phone number belongs to another account."


class CodeInvalid(DomainError):
    message = "That code is not right."


class CodeExpired(DomainError):
    message = "That code has expired: ask for a new one."


class CodeLocked(DomainError):
    message = "Too many wrong codes: ask for a new code."


class RateLimitExceeded(DomainError):
    message = "Too many requests: try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class CredentialsInvalid(DomainError):
    message = "Wrong phone, username or password."


class PhoneUnverified(DomainError):
    message = "Verify your phone first: a code was sent when you signed up."


class AuthRequired(DomainError):
    message = "Log in first."


class TokenInvalid(DomainError):
    message = "That token is not valid (expired, used or revoked)."
