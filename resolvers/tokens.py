"""Access tokens (JWT, signed with the server's key) and refresh tokens (opaque, single use,
rotated).

An access token names its user, its session and the user's session version; it is accepted
only while the session is not revoked and the version is current, so logout, reset,
password change and deletion end earlier tokens on their next request. Another service
that checks tokens against the published public keys (/.well-known/jwks.json) sees only
the signature, issuer, audience and expiry: to it a token stays good until it expires.

Verification trusts nothing the token says about its own key: the header's ``kid`` must
name a key of the policy's key set, its ``alg`` must be that key's one algorithm (so a
public key is never used as an HMAC secret), and header members that point elsewhere for a
key (``jku``, ``jwk``, ``x5u``, ``x5c``) or demand extensions (``crit``) are refused. The
key objects are parsed once, when the policy is built. A refresh token is
stored as a keyed hash; using one twice revokes its whole session (a stolen token is
detected the moment either party uses it after the other), and nothing else: a refresh token
that is no longer current can end only its own session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from tortoise.expressions import F

from core.clock import now
from models import AuthSession, RefreshToken, User
from resolvers.errors import TokenInvalid

ACCESS = "access"
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 4096
REQUIRED_CLAIMS = ["exp", "iat", "sub", "typ", "sid", "sv", "iss", "aud"]
REFUSED_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})


@dataclass(frozen=True)
class TokenKey:
    """One key of the token key set: its id, its one algorithm, and the parsed key PyJWT
    signs or verifies with (a cryptography key object; the secret's bytes for HS256)."""

    kid: str
    algorithm: str
    key: Any  # cryptography's key types, or bytes: PyJWT's own key parameter is untyped


@dataclass(frozen=True)
class TokenPolicy:
    signing_key: TokenKey
    hash_key: bytes
    access_ttl_seconds: int
    refresh_ttl_seconds: int
    verify_keys: Mapping[str, TokenKey]  # by kid: the signing key's public half, retired keys
    issuer: str
    audience: str


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    user: User
    session_id: uuid.UUID


def refresh_hash(policy: TokenPolicy, token: str) -> str:
    return hmac.new(policy.hash_key, f"refresh|{token}".encode(), hashlib.sha256).hexdigest()


def encode_access(policy: TokenPolicy, user: User, session_id: uuid.UUID) -> tuple[str, datetime]:
    issued = now()
    expires_at = issued + timedelta(seconds=policy.access_ttl_seconds)
    claims = {
        "sub": str(user.id),
        "typ": ACCESS,
        "sid": str(session_id),
        "sv": user.session_version,
        "iss": policy.issuer,
        "aud": policy.audience,
        "iat": int(issued.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    key = policy.signing_key
    token = jwt.encode(claims, key.key, algorithm=key.algorithm, headers={"kid": key.kid})
    return token, expires_at


def decode_access(policy: TokenPolicy, token: str) -> dict[str, Any]:
    """Verified claims of an access token, or TokenInvalid."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid()
    try:
        key = _key_named_by(policy, jwt.get_unverified_header(token))
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        raise TokenInvalid() from None
    if claims.get("typ") != ACCESS or not isinstance(claims.get("sv"), int):
        raise TokenInvalid()
    return claims


def _key_named_by(policy: TokenPolicy, header: dict[str, Any]) -> TokenKey:
    kid = header.get("kid")
    key = policy.verify_keys.get(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != key.algorithm or REFUSED_HEADERS & header.keys():
        raise TokenInvalid()
    return key


async def user_for_access(policy: TokenPolicy, token: str) -> tuple[User, uuid.UUID]:
    """The user and session an access token stands for, while both are current."""
    claims = decode_access(policy, token)
    try:
        session_id = uuid.UUID(str(claims["sid"]))
        user_id = int(claims["sub"])
    except (ValueError, TypeError):
        raise TokenInvalid() from None
    session = await AuthSession.get_or_none(
        id=session_id, user_id=user_id, revoked_at=None
    ).select_related("user")
    if session is None or session.user.session_version != claims["sv"]:
        raise TokenInvalid()
    return session.user, session_id


async def start_session(policy: TokenPolicy, user: User) -> IssuedSession:
    session = await AuthSession.create(id=uuid.uuid4(), user=user)
    return await _issue(policy, user, session.id)


async def _issue(policy: TokenPolicy, user: User, session_id: uuid.UUID) -> IssuedSession:
    refresh = secrets.token_urlsafe(32)
    await RefreshToken.create(
        session_id=session_id,
        token_hash=refresh_hash(policy, refresh),
        expires_at=now() + timedelta(seconds=policy.refresh_ttl_seconds),
    )
    access, expires_at = encode_access(policy, user, session_id)
    return IssuedSession(access, refresh, expires_at, user, session_id)


async def rotate(policy: TokenPolicy, refresh: str) -> IssuedSession:
    """A new access and refresh token for a current refresh token, which is now used."""
    if not refresh or len(refresh) > 256:
        raise TokenInvalid()
    row = await RefreshToken.get_or_none(token_hash=refresh_hash(policy, refresh)).select_related(
        "session__user"
    )
    if row is None:
        raise TokenInvalid()
    at = now()
    session = row.session
    claimed = await RefreshToken.filter(id=row.id, used_at=None, expires_at__gt=at).update(
        used_at=at
    )
    if claimed != 1:
        if await RefreshToken.filter(id=row.id).exclude(used_at=None).exists():
            await revoke_sessions(session.user_id, only=session.id)  # reuse: end the family
        raise TokenInvalid()
    if session.revoked_at is not None:
        raise TokenInvalid()
    return await _issue(policy, session.user, session.id)


async def session_for_refresh(policy: TokenPolicy, refresh: str) -> AuthSession | None:
    """The session of a current refresh token, None for an unknown one, TokenInvalid for one
    that is no longer current (rotated, expired, its session ended): such a token ends
    nothing but its own session (a used one's reuse ends it, as in rotate), so a token
    copied before a rotation or a password change cannot log the owner out elsewhere."""
    if not refresh or len(refresh) > 256:
        return None
    row = await RefreshToken.get_or_none(token_hash=refresh_hash(policy, refresh)).select_related(
        "session"
    )
    if row is None:
        return None
    if row.used_at is not None:
        await revoke_sessions(row.session.user_id, only=row.session.id)  # reuse: end the family
        raise TokenInvalid()
    if row.expires_at <= now() or row.session.revoked_at is not None:
        raise TokenInvalid()
    return row.session


async def revoke_sessions(
    user_id: int, *, only: uuid.UUID | None = None, keep: uuid.UUID | None = None
) -> None:
    query = AuthSession.filter(user_id=user_id, revoked_at=None)
    if only is not None:
        query = query.filter(id=only)
    if keep is not None:
        query = query.exclude(id=keep)
    await query.update(revoked_at=now())


async def end_all_sessions(user: User) -> None:
    """Every access and refresh token issued so far stops working."""
    await User.filter(id=user.id).update(session_version=F("session_version") + 1)
    await revoke_sessions(user.id)
    await user.refresh_from_db(fields=["session_version"])
