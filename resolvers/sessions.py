"""Login (with the optional second factor), session refresh, logout, and who is asking.

Unknown identifier and wrong password give the same CredentialsInvalid after the same work
(a dummy argon2 verify); PhoneUnverified only after a right password. Failures count per
client and per identifier; past the identifier's limits login steps up to an SMS code
instead of refusing (see ``login``), and a success clears the count.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from core.clock import now
from core.masking import mask_phone
from models import AuthSession, User, VerificationCode
from resolvers import codes, events, guards, languages, opening, proofs, signup, tokens, totp
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import (
    AuthRequired,
    CredentialsInvalid,
    InputRejected,
    PhoneUnverified,
    TokenInvalid,
)
from resolvers.usernames import looks_like_phone, normalize_username


@dataclass(frozen=True)
class SecondFactor:
    challenge: str
    sent_to: str | None  # the masked phone, None when no SMS went
    expires_at: datetime
    methods: tuple[str, ...] = (proofs.SMS,)


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the user and the session its access token belongs to."""

    user: User
    session_id: uuid.UUID


def _identifier_key(deps: Deps, identifier: str) -> str:
    """The key of a phone in any format or a username. Login limits count on the identifier
    as given, never on the account behind it: a count shared by a username and its phone
    would tell which phone goes with which username."""
    if looks_like_phone(identifier):
        try:
            return deps.normalize_phone(identifier)
        except InputRejected:
            raise InputRejected("identifier", "Enter your phone number or username.") from None
    try:
        _, key = normalize_username(identifier)
    except InputRejected:
        raise InputRejected("identifier", "Enter your phone number or username.") from None
    return f"username:{key}"


async def _find(key: str) -> User | None:
    """The verified account, with whether TOTP is on (``totp_on``) in the same SELECT."""
    accounts = User.filter(is_verified=True).annotate(totp_on=totp.TOTP_ON)
    if key.startswith("username:"):
        return await accounts.get_or_none(username_key=key.removeprefix("username:"))
    return await accounts.get_or_none(phone=key)


def _totp_on(user: User) -> bool:
    return bool(user.totp_on)  # type: ignore[attr-defined]  # annotated by _find


async def _password_matches(deps: Deps, password_hash: str | None, password: str) -> bool:
    """The same work (one argon2 verify) whether or not there is a hash to check."""
    if len(password) > deps.settings.password_max_length * 18:
        return False  # refused without hashing; same answer as a wrong password
    if password_hash is None:
        await deps.passwords.verify_dummy(password)
        return False
    return await deps.passwords.verify(password_hash, password)


async def check_password(deps: Deps, user: User, password: str) -> User:
    """The logged-in caller if the password is theirs; CredentialsInvalid (counted) or
    RateLimitExceeded (the account's budget spent) otherwise. Counted on the account id:
    nobody logged out can fill this budget (a login counts on its identifier)."""
    account_key = f"user:{user.id}"
    await guards.password_budget(deps, account_key)
    if await _password_matches(deps, user.password_hash, password):
        await _rehash_if_needed(deps, user, password)
        await guards.succeeded(deps, account_key)
        return user
    await guards.failed(deps, account_key)
    raise CredentialsInvalid()


async def _rehash_if_needed(deps: Deps, user: User, password: str) -> None:
    if deps.passwords.needs_rehash(user.password_hash):
        user.password_hash = await deps.passwords.hash(password)
        await User.filter(id=user.id).update(password_hash=user.password_hash)


async def login(
    deps: Deps, client: Client, identifier: str, password: str, channel: str = "sms"
) -> tokens.IssuedSession | SecondFactor:
    """A Session, or SecondFactorRequired with two-factor login on.

    When the identifier has seen many wrong passwords (its limits are spent), every login
    with it answers SecondFactorRequired: the right password sends a real `login_code`, a
    wrong one gets a decoy challenge (nothing sent) that behaves like a real one. So the
    owner always gets in, a guesser never does, and no answer tells a right password from
    a wrong one.
    """
    if not identifier.strip():
        raise InputRejected("identifier", "Enter your phone number or username.")
    if not password:
        raise InputRejected("password", "Enter your password.")
    channel = deps.channel(channel)  # refused alike for every identifier, before any work
    try:
        key = _identifier_key(deps, identifier)
    except InputRejected:
        await deps.limits.hit("login_per_client", client.address)  # counted, as any attempt
        raise
    stepped_up = await guards.login_budget(deps, client, key)  # one round trip
    user = await _find(key)
    pending = None if user is not None else await signup.pending_for_login(key)
    hash_ = user.password_hash if user else (pending.password_hash if pending else None)
    right = await _password_matches(deps, hash_, password)
    checked = time.monotonic()
    if right and user is None:
        raise PhoneUnverified()  # a pending signup's own password: only its maker knows it
    if stepped_up:
        try:
            return _as_step_up(
                await _stepped_up(deps, client, key, user, right, password, channel), key
            )
        finally:
            await asyncio.sleep(max(0.0, checked + STEP_UP_ANSWER_FLOOR_SECONDS - time.monotonic()))
    if user is not None and not right:
        await events.record(user.id, events.LOGIN_FAILED, client)
    if user is None or not right:
        await guards.failed(deps, key)
        raise CredentialsInvalid()
    await _rehash_if_needed(deps, user, password)
    await guards.succeeded(deps, key)
    methods = await proofs.methods(user, totp_on=_totp_on(user))
    if methods:
        return await _second_factor(deps, client, user, methods, channel)
    return await opening.open_session(deps.tokens, user, events.LOGIN, client)


# While stepped up, what follows the password check differs with the password: the right one
# sends or rebinds the owner's login code (a Redis budget and a transaction), a wrong one
# records the failure and writes a decoy challenge. Every stepped-up answer is held until this
# long after the check, so its time tells no right password (measured: the right password's
# SMS path was 5-12 ms slower by medians; tests/test_attacks_enumeration.py). Only identifiers
# under attack pay it, and a sleeping request costs no CPU.
STEP_UP_ANSWER_FLOOR_SECONDS = 0.2


async def _stepped_up(
    deps: Deps,
    client: Client,
    key: str,
    user: User | None,
    right: bool,
    password: str,
    channel: str,
) -> SecondFactor:
    """The challenge behind a stepped-up answer: real for the right password, else a decoy."""
    if user is None or not right:
        if user is not None:
            await events.record(user.id, events.LOGIN_FAILED, client)
        return await _decoy_second_factor(deps, client, key, [proofs.SMS], channel)
    await _rehash_if_needed(deps, user, password)
    methods = await proofs.methods(user, totp_on=_totp_on(user)) or [proofs.SMS]
    if proofs.SMS not in methods:
        # Counted as a decoy and the SMS path count it: a client's spent SMS budget would
        # otherwise refuse a wrong password and let an authenticator account's right one by.
        await deps.limits.hit("sms_per_client", client.address)
    try:
        return await _second_factor(deps, client, user, methods, channel)
    except codes.ResendWait:
        # Within the wait with no live code to rebind (used, or locked by wrong guesses on
        # an earlier challenge): a wrong password never waits, so neither does this answer.
        # A challenge with no code; log in again after the wait. (The owner's own login-code
        # budget still answers RateLimited: only the right password can spend it.)
        return await _decoy_second_factor(deps, client, key, [proofs.SMS], channel, counted=True)


def _login_row(subject: str) -> Awaitable[VerificationCode | None]:
    return VerificationCode.get_or_none(purpose=codes.LOGIN.purpose, subject=subject)


async def _second_factor(
    deps: Deps, client: Client, user: User, methods: list[str], channel: str = "sms"
) -> SecondFactor:
    """A login code by SMS, or within its resend wait the same live code under a new
    challenge (nothing sent): the right password never answers RateLimited for the wait,
    and answers like a wrong one while stepped up. The code has a per-phone budget of its
    own (phone_key): only the right password spends it."""
    if proofs.SMS not in methods:  # TOTP or a recovery code: a challenge of its own, no SMS
        issued = await codes.issue(
            deps.codes,
            codes.LOGIN,
            subject=codes.new_subject("factor"),
            fresh=True,
            phone=user.phone,
            user_id=user.id,
            bind=True,
            decoy=True,  # its SMS code is never sent nor matched
            channel=channel,  # shown by deliveryStatus, as a decoy's is
        )
        assert issued.challenge is not None
        return SecondFactor(issued.challenge, None, issued.expires_at, tuple(methods))
    await deps.limits.hit("sms_per_client", client.address)  # as a decoy counts it
    row = await _login_row(user.phone)
    if row is not None and codes.cooldown_left(row, deps.codes, now()):
        rebound = await _rebound(deps, row, user, methods, channel)
        if rebound is not None:
            return rebound
    try:
        await guards.sms_budget(
            deps,
            client,
            user.phone,
            wait_on=row,
            phone_key="login",
            client_counted=True,
            channel=channel,
        )
        async with in_transaction():
            issued = await queue_code(
                deps,
                codes.LOGIN,
                subject=user.phone,
                phone=user.phone,
                user_id=user.id,
                bind=True,
                channel=channel,
                locale=languages.of(user),
            )
    except codes.ResendWait:
        # A parallel login with the right password sent a code a moment ago: this one gets
        # that code under a challenge of its own, as a login within the wait does.
        latest = await _login_row(user.phone)
        rebound = await _rebound(deps, latest, user, methods, channel) if latest else None
        if rebound is None:
            raise
        return rebound
    deps.wake_outbox()
    assert issued.challenge is not None
    return SecondFactor(issued.challenge, mask_phone(user.phone), issued.expires_at, tuple(methods))


async def _rebound(
    deps: Deps, row: VerificationCode, user: User, methods: list[str], channel: str
) -> SecondFactor | None:
    """The live login code of ``row`` under a new challenge (nothing sent), if it is live."""
    rebound = await codes.rebind(deps.codes, row, channel)
    if rebound is None or rebound.challenge is None:
        return None
    return SecondFactor(
        rebound.challenge, mask_phone(user.phone), rebound.expires_at, tuple(methods)
    )


# While stepped up, every answer lists every method: what the account really uses would tell
# a stranger that the phone is registered (with TOTP on), and a right password from a wrong
# one (a real challenge of a TOTP account sends no SMS, a decoy's would seem to).
STEP_UP_METHODS = (proofs.SMS, proofs.TOTP, proofs.RECOVERY_CODE)


def _as_step_up(factor: SecondFactor, key: str) -> SecondFactor:
    """The answer while an identifier is stepped up, the same whoever asks and whatever the
    password: every method, and the typed phone masked (None for a username: the real
    phone's mask would link the two, and a made-up one would tell a decoy from the real
    challenge). The challenge underneath is real or a decoy; only its SMS code, or the
    account's TOTP or recovery code, can complete it."""
    sent_to = mask_phone(key) if key.startswith("+") else None
    return replace(factor, sent_to=sent_to, methods=STEP_UP_METHODS)


async def _decoy_second_factor(
    deps: Deps,
    client: Client,
    key: str,
    methods: list[str],
    channel: str = "sms",
    *,
    counted: bool = False,
) -> SecondFactor:
    """A login challenge for a wrong password (or unknown identifier) while stepped up: the
    same per-client count as a real one, a row that counts and locks like one, no SMS. The
    masked phone is the one typed, or for a username a made-up one, the same each time
    (the real one would tell which phone goes with the username)."""
    if not counted:  # the real path counted it already (a right password that must wait)
        await deps.limits.hit("sms_per_client", client.address)
    digest = hmac.new(deps.codes.key, f"decoy|{key}".encode(), hashlib.sha256).hexdigest()
    phone = key if key.startswith("+") else "+1" + str(int(digest[:16], 16))[-10:].zfill(10)
    issued = await codes.issue(
        deps.codes,
        codes.LOGIN,
        subject=codes.new_subject("decoy"),
        fresh=True,
        phone=phone,
        user_id=None,
        bind=True,
        decoy=True,
        channel=channel,
    )
    assert issued.challenge is not None
    sent_to = mask_phone(phone) if proofs.SMS in methods else None  # as the real one answers
    return SecondFactor(issued.challenge, sent_to, issued.expires_at, tuple(methods))


async def verify_login(
    deps: Deps, client: Client, challenge: str, code_raw: str, method: str = proofs.SMS
) -> tokens.IssuedSession:
    await guards.guess_budget(deps, client)
    if method != proofs.SMS:  # a TOTP or recovery code for the challenge (proofs.py)
        found = await codes.find(deps.codes, codes.LOGIN, challenge)
        if found is None:
            raise TokenInvalid()
        return await proofs.complete_login(deps, client, found, code_raw.strip(), method)
    code = codes.check_format(deps.codes, codes.LOGIN, code_raw)
    row = await codes.find(deps.codes, codes.LOGIN, challenge)
    if row is None:
        raise TokenInvalid()

    async def complete(row: VerificationCode) -> tokens.IssuedSession:
        user = await User.get_or_none(id=row.user_id or 0, phone=row.phone, is_verified=True)
        if user is None:
            raise TokenInvalid()
        return await opening.open_session(deps.tokens, user, events.LOGIN, client)

    return await codes.check(deps.codes, row, code, complete)


async def refresh(
    deps: Deps, refresh_token: str, client: Client | None = None
) -> tokens.IssuedSession:
    return await tokens.rotate(deps.tokens, refresh_token, client)


async def authenticate(deps: Deps, authorization: str | None) -> Caller | None:
    """The caller of a request with "Authorization: Bearer <access token>", if valid."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        user, session_id = await tokens.user_for_access(deps.tokens, token.strip())
    except TokenInvalid:
        return None
    return Caller(user, session_id)


async def logout(
    deps: Deps,
    caller: Caller | None,
    refresh_token: str | None,
    everywhere: bool,
    client: Client | None = None,
) -> None:
    """End this session (and the refresh token's), or with ``everywhere`` every session.

    A refresh token that is no longer current answers TokenInvalid and ends nothing else,
    with or without ``everywhere``."""
    session = await tokens.session_for_refresh(deps.tokens, refresh_token or "")
    user_id = caller.user.id if caller else (session.user_id if session else None)
    if user_id is None or (caller and session and session.user_id != caller.user.id):
        raise AuthRequired()
    if everywhere:
        user = caller.user if caller else await User.get(id=user_id)
        async with in_transaction():
            await tokens.end_all_sessions(user)
            await events.record(user_id, events.SESSION_REVOKED, client)
        return
    async with in_transaction():
        for session_id in {caller.session_id if caller else None, session.id if session else None}:
            if session_id is not None:
                await tokens.revoke_sessions(user_id, only=session_id)
        await events.record(user_id, events.SESSION_REVOKED, client)


# --- issue 13: sessions you can see and end -----------------------------------------------


async def active_sessions(deps: Deps, user_id: int) -> list[AuthSession]:
    """The account's live sessions, most recently used first: not revoked, used within the
    refresh idle limit, younger than the maximum age."""
    at = now()
    idle = at - timedelta(seconds=deps.tokens.refresh_ttl_seconds)
    born = at - timedelta(seconds=deps.tokens.session_max_age_seconds)
    rows = await AuthSession.filter(user_id=user_id, revoked_at=None, created_at__gt=born).order_by(
        "-last_used_at", "-created_at"
    )
    return [r for r in rows if (r.last_used_at or r.created_at) > idle]


def _session_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InputRejected("id", "No such session.") from None


async def revoke_session(deps: Deps, caller: Caller, raw_id: str, client: Client) -> None:
    """End one of the caller's own sessions. Another account's session id is answered as an
    unknown one (InputRejected on "id") after the same single statement, and ends nothing:
    the statement names the caller's account."""
    session_id = _session_id(raw_id)
    async with in_transaction():
        if await tokens.revoke_sessions(caller.user.id, only=session_id) != 1:
            raise InputRejected("id", "No such session.")
        await events.record(caller.user.id, events.SESSION_REVOKED, client)


async def revoke_other_sessions(deps: Deps, caller: Caller, client: Client) -> None:
    """End every session of the caller's account but the one asking."""
    async with in_transaction():
        if await tokens.revoke_sessions(caller.user.id, keep=caller.session_id):
            await events.record(caller.user.id, events.SESSION_REVOKED, client)
