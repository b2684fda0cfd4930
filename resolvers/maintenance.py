"""Periodic clean-up: rows whose purpose has passed, so tables do not grow without bound."""

from __future__ import annotations

from datetime import timedelta

from core.clock import now
from models import AuthSession, OutboxMessage, RefreshToken, VerificationCode
from notifier.outbox import FINAL, SENT
from resolvers.deps import Deps
from resolvers.events import purge_old as purge_old_events
from resolvers.signup import purge_stale

CODE_ROW_KEEP = timedelta(days=1)  # longer than any cooldown or attempt window
MESSAGE_KEEP = timedelta(days=30)  # what the operator's outbox view looks back on


async def purge(deps: Deps) -> dict[str, int]:
    """Delete expired code rows, expired refresh tokens, ended sessions, stale signups,
    security events past their 90 days."""
    at = now()
    refresh_ttl = timedelta(seconds=deps.settings.refresh_token_ttl_seconds)
    return {
        "unverified_users": await purge_stale(deps),
        "code_rows": await VerificationCode.filter(expires_at__lt=at - CODE_ROW_KEEP).delete(),
        "refresh_tokens": await RefreshToken.filter(expires_at__lt=at).delete(),
        "sessions": await AuthSession.filter(revoked_at__lt=at - refresh_ttl).delete(),
        # Messages done with (their attempts go with them); nothing still to be sent.
        "messages": await OutboxMessage.filter(
            state__in=sorted(FINAL | {SENT}), created_at__lt=at - MESSAGE_KEEP
        ).delete(),
        "security_events": await purge_old_events(),  # older than 90 days
    }
