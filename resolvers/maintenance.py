"""Periodic clean-up: rows whose purpose has passed, so tables do not grow without bound."""

from __future__ import annotations

from datetime import timedelta

from models import AuthSession, RefreshToken, VerificationCode
from resolvers.clock import now
from resolvers.deps import Deps
from resolvers.signup import purge_stale

CODE_ROW_KEEP = timedelta(days=1)  # longer than any cooldown or attempt window


async def purge(deps: Deps) -> dict[str, int]:
    """Delete expired code rows, expired refresh tokens, ended sessions, stale signups."""
    at = now()
    refresh_ttl = timedelta(seconds=deps.settings.refresh_token_ttl_seconds)
    return {
        "unverified_users": await purge_stale(deps),
        "code_rows": await VerificationCode.filter(expires_at__lt=at - CODE_ROW_KEEP).delete(),
        "refresh_tokens": await RefreshToken.filter(expires_at__lt=at).delete(),
        "sessions": await AuthSession.filter(revoked_at__lt=at - refresh_ttl).delete(),
    }
