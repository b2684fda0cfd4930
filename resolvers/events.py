"""The security history: what happened to an account, when and from where.

Events name what happened and nothing else: never a code, a secret or a password. They are
written in the transaction of the change they describe, and read only by their account.
"""

from __future__ import annotations

from datetime import timedelta

from core.clock import now
from models import SecurityEvent
from resolvers.deps import Client

KEEP = timedelta(days=90)
MAX_READ = 100

SIGNUP = "signup"
LOGIN = "login"
LOGIN_FAILED = "login_failed"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
IDENTITY_CHANGED = "identity_changed"
TWO_FACTOR_CHANGED = "two_factor_changed"
TOTP_ENABLED = "totp_enabled"
TOTP_DISABLED = "totp_disabled"
RECOVERY_CODE_USED = "recovery_code_used"
RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
SESSION_REVOKED = "session_revoked"

KINDS = frozenset(
    {
        SIGNUP,
        LOGIN,
        LOGIN_FAILED,
        PASSWORD_CHANGED,
        PASSWORD_RESET,
        IDENTITY_CHANGED,
        TWO_FACTOR_CHANGED,
        TOTP_ENABLED,
        TOTP_DISABLED,
        RECOVERY_CODE_USED,
        RECOVERY_CODES_REGENERATED,
        SESSION_REVOKED,
    }
)


async def record(user_id: int, kind: str, client: Client | None) -> SecurityEvent:
    """Store one event of ``kind`` for the account, with the client's address and agent."""
    event = event_row(user_id, kind, client)
    await event.save(force_create=True)
    return event


def event_row(user_id: int, kind: str, client: Client | None) -> SecurityEvent:
    """The row ``record`` writes, not yet saved (a statement chain writes it too, its
    ``user_id`` that of the account the chain creates: resolvers/signup.py)."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    return SecurityEvent(
        user_id=user_id,
        kind=kind,
        at=now(),
        ip_address=client.ip_address if client else None,
        user_agent=client.user_agent[:200] if client and client.user_agent else None,
    )


async def newest(user_id: int, first: int) -> list[SecurityEvent]:
    """The account's latest ``first`` events (at most MAX_READ), newest first."""
    count = max(0, min(first, MAX_READ))
    if count == 0:
        return []
    return await SecurityEvent.filter(user_id=user_id).order_by("-at", "-id").limit(count)


async def purge_old() -> int:
    return await SecurityEvent.filter(at__lt=now() - KEEP).delete()
