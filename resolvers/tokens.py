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

Refresh grace (two tabs refreshing at once). A refresh token presented again within
``reuse_grace_seconds`` of its rotation answers the successor that rotation issued, not a new
one, so the session never forks: whoever holds the old token (a second tab, or a thief
racing the owner) ends up on the same chain, and the next reuse after the window still ends
the session. To answer "the same successor" without keeping any token's plaintext, the
successor is not drawn at random but derived: ``HMAC(hash_key, "successor|" + old token)``.
The server can recompute it from the old token it is shown; the database holds only keyed
hashes, so a copy of the database yields no usable token (storing the successor encrypted
would do the same with one more key to manage and a column to migrate). The first token of
a session is random, so every chain is unpredictable. Claiming a token and storing its
successor happen in one transaction (on PostgreSQL one statement: ``_rotate_chained``): a
concurrent second claim waits for it (PostgreSQL's row lock; SQLite's single writer) and
then finds the successor committed.

A session ends ``session_max_age_seconds`` after its login however often it is refreshed;
``refresh_ttl_seconds`` is the idle limit (each refresh token lives that long, never past
the session's end).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.queryset import UpdateQuery
from tortoise.transactions import in_transaction

from core.clock import now
from models import AuthSession, RefreshToken, User, rows
from resolvers.errors import TokenInvalid

if TYPE_CHECKING:  # resolvers.deps builds on this module
    from resolvers.deps import Client

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
    reuse_grace_seconds: int = 10
    session_max_age_seconds: int = 90 * 86_400


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_at: datetime
    user: User
    session_id: uuid.UUID
    refresh_expires_at: datetime  # when the refresh token dies (idle limit or session's end)


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
    if session_ends_at(policy, session) <= now():
        raise TokenInvalid()
    return session.user, session_id


def session_ends_at(policy: TokenPolicy, session: AuthSession) -> datetime:
    """The end of a session's life, however often it is refreshed."""
    return session.created_at + timedelta(seconds=policy.session_max_age_seconds)


def successor_of(policy: TokenPolicy, refresh: str) -> str:
    """The refresh token that replaces ``refresh`` when it is rotated (module docstring)."""
    digest = hmac.new(policy.hash_key, f"successor|{refresh}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def start_session(
    policy: TokenPolicy, user: User, client: Client | None = None
) -> IssuedSession:
    session, token, refresh = new_session(policy, user, client)
    await session.save(force_create=True)
    await token.save(force_create=True)
    return issued(policy, user, session, token, refresh)


def new_session(
    policy: TokenPolicy, user: User, client: Client | None = None
) -> tuple[AuthSession, RefreshToken, str]:
    """The rows ``start_session`` writes, not yet saved (a statement chain writes them too,
    ``user_id`` that of the account it creates: resolvers/signup.py), and the refresh
    token, random: the first of its chain."""
    at = now()
    session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        created_at=at,
        last_used_at=at,
        user_agent=client.user_agent[:200] if client and client.user_agent else None,
        ip_address=client.ip_address if client else None,
    )
    refresh = secrets.token_urlsafe(32)
    return session, _token_row(policy, session, refresh), refresh


def _token_row(policy: TokenPolicy, session: AuthSession, refresh: str) -> RefreshToken:
    expires_at = min(
        now() + timedelta(seconds=policy.refresh_ttl_seconds), session_ends_at(policy, session)
    )
    return RefreshToken(
        session_id=session.id, token_hash=refresh_hash(policy, refresh), expires_at=expires_at
    )


def issued(
    policy: TokenPolicy, user: User, session: AuthSession, token: RefreshToken, refresh: str
) -> IssuedSession:
    """What the client gets for a session and its stored refresh token: an access token
    for the (saved) account, and the refresh token's plaintext."""
    access, expires_at = encode_access(policy, user, session.id)
    return IssuedSession(access, refresh, expires_at, user, session.id, token.expires_at)


async def _issue(
    policy: TokenPolicy, user: User, session: AuthSession, refresh: str
) -> IssuedSession:
    token = _token_row(policy, session, refresh)
    await token.save(force_create=True)
    return issued(policy, user, session, token, refresh)


async def rotate(policy: TokenPolicy, refresh: str, client: Client | None = None) -> IssuedSession:
    """A new access token and the successor of a current refresh token, which is now used;
    within the grace after its rotation, the same successor again (module docstring)."""
    if not refresh or len(refresh) > 256:
        raise TokenInvalid()
    try:
        connection = rows.chain_connection(RefreshToken)
        if connection is not None:
            return await _rotate_chained(connection, policy, refresh, client)
        async with in_transaction():
            return await _rotate(policy, refresh, client)
    except _Reused as reused:  # outside the transaction, so that the revocation stays
        await revoke_sessions(reused.session.user_id, only=reused.session.id)
        raise TokenInvalid() from None


async def _token_of(policy: TokenPolicy, refresh: str) -> RefreshToken:
    """The stored refresh token with its session and account; TokenInvalid if unknown."""
    row = await RefreshToken.get_or_none(token_hash=refresh_hash(policy, refresh)).select_related(
        "session__user"
    )
    if row is None:
        raise TokenInvalid()
    return row


def _claiming(row: RefreshToken, at: datetime) -> UpdateQuery:
    """The guarded use of a refresh token: one row changed, or none (used, or expired)."""
    return RefreshToken.filter(id=row.id, used_at=None, expires_at__gt=at).update(used_at=at)


def _ended(policy: TokenPolicy, session: AuthSession, at: datetime) -> bool:
    return session.revoked_at is not None or session_ends_at(policy, session) <= at


async def _rotate(policy: TokenPolicy, refresh: str, client: Client | None) -> IssuedSession:
    """``rotate`` by the ORM, in a transaction: claim, check the session, mark it used,
    store the successor (a failed check rolls the claim back)."""
    row = await _token_of(policy, refresh)
    at = now()
    if await _claiming(row, at) != 1:
        return await _within_grace(policy, row, refresh, client, at)
    session = row.session  # read just now, in this transaction
    if _ended(policy, session, at):
        raise TokenInvalid()
    await _mark_used(session, at, client)
    return await _issue(policy, session.user, session, successor_of(policy, refresh))


async def _rotate_chained(
    connection: BaseDBAsyncClient, policy: TokenPolicy, refresh: str, client: Client | None
) -> IssuedSession:
    """``rotate`` on PostgreSQL: the claim, the session's last use and the successor in one
    statement (models/rows.py), each part written only if the one before it changed a row.

    The guards stay where the ORM path has them: the claim is the same guarded UPDATE (a
    parallel refresh of the token waits for its row lock and then claims nothing, so exactly
    one wins, and finds the successor committed with the claim); the session's liveness is
    checked on the row read with the token, and again by the session's UPDATE (``revoked_at
    IS NULL``, under its row lock), so an ended session never gets a successor. What the
    ORM path rolls back (a claim whose session turned out ended) is not claimed here: a
    token seen used or expired, or a session seen ended, writes nothing; only a revocation
    committing during the statement itself leaves the token used without a successor, in
    its now ended session."""
    row = await _token_of(policy, refresh)
    at = now()
    session = row.session
    if row.used_at is not None or row.expires_at <= at:  # the claim would change nothing
        return await _within_grace(policy, row, refresh, client, at)
    if _ended(policy, session, at):
        raise TokenInvalid()
    successor = successor_of(policy, refresh)
    token = _token_row(policy, session, successor)
    chain = rows.Chain()
    chain.query("claimed", _claiming(row, at), tail='RETURNING "id"')
    chain.query(
        "session", _marking_used(session, at, client), after="claimed", tail='RETURNING "id"'
    )
    chain.insert("token", token, source="session", taken={})
    _, counts = await connection.execute_query(
        chain.sql(
            'SELECT (SELECT count(*) FROM "claimed") AS "claimed", '
            '(SELECT count(*) FROM "session") AS "live"'
        ),
        chain.params,
    )
    if counts[0]["claimed"] != 1:  # a parallel refresh claimed it first
        return await _within_grace(policy, row, refresh, client, at)
    if counts[0]["live"] != 1:  # revoked meanwhile: no successor was written
        raise TokenInvalid()
    return issued(policy, session.user, session, token, successor)


class _Reused(Exception):
    """A refresh token used again after the grace: its session is to end."""

    def __init__(self, session: AuthSession) -> None:
        self.session = session


async def _within_grace(
    policy: TokenPolicy,
    row: RefreshToken,
    refresh: str,
    client: Client | None,
    at: datetime,
    depth: int = 0,
) -> IssuedSession:
    """A used refresh token presented again: its successor within the grace (following the
    chain if the successor was rotated too), else reuse, which ends the session."""
    used_at = (await RefreshToken.get(id=row.id)).used_at
    if used_at is None:
        raise TokenInvalid()  # expired unused: nothing to end
    grace = timedelta(seconds=policy.reuse_grace_seconds)
    if at - used_at > grace or depth > 8:
        raise _Reused(row.session)  # reuse: the family ends
    successor = successor_of(policy, refresh)
    following = await RefreshToken.get_or_none(
        token_hash=refresh_hash(policy, successor), session_id=row.session_id
    ).select_related("session")
    if following is None or following.expires_at <= at:
        raise TokenInvalid()  # its session ended or the successor expired: nothing to answer
    if following.used_at is not None:
        return await _within_grace(policy, following, successor, client, at, depth + 1)
    session = await _live_session(policy, row.session_id, at, client)
    access, expires_at = encode_access(policy, session.user, session.id)
    return IssuedSession(
        access, successor, expires_at, session.user, session.id, following.expires_at
    )


async def _live_session(
    policy: TokenPolicy, session_id: uuid.UUID, at: datetime, client: Client | None
) -> AuthSession:
    """The session, not revoked and within its maximum age, marked as used now (from the
    client's address); TokenInvalid otherwise. Read afresh: a logout or revocation that
    committed a moment ago is seen, so the grace never brings an ended session back."""
    session = await AuthSession.get_or_none(id=session_id, revoked_at=None).select_related("user")
    if session is None or session_ends_at(policy, session) <= at:
        raise TokenInvalid()
    await _mark_used(session, at, client)
    return session


async def _mark_used(session: AuthSession, at: datetime, client: Client | None) -> None:
    await _marking_used(session, at, client)


def _marking_used(session: AuthSession, at: datetime, client: Client | None) -> UpdateQuery:
    """Last used now, from the client's address (for the session list), while not revoked."""
    address = client.ip_address if client and client.ip_address else session.ip_address
    return AuthSession.filter(id=session.id, revoked_at=None).update(
        last_used_at=at, ip_address=address
    )


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
) -> int:
    """End the user's live sessions (only one, or all but one); how many ended."""
    query = AuthSession.filter(user_id=user_id, revoked_at=None)
    if only is not None:
        query = query.filter(id=only)
    if keep is not None:
        query = query.exclude(id=keep)
    return await query.update(revoked_at=now())


async def end_all_sessions(user: User) -> None:
    """Every access and refresh token issued so far stops working."""
    await User.filter(id=user.id).update(session_version=F("session_version") + 1)
    await revoke_sessions(user.id)
    await user.refresh_from_db(fields=["session_version"])
