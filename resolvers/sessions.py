"""Login (with the optional second factor), session refresh, logout, and who is asking.

Unknown identifier and wrong password give the same CredentialsInvalid after the same work
(a dummy argon2 verify); PhoneUnverified only after a right password. Failures count per
client and per account, with growing waits, and a success clears the account's count.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from core.masking import mask_phone
from models import User, VerificationCode
from notifier.actions import Action
from resolvers import codes, guards, tokens
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import (
    AuthRequired,
    CodeInvalid,
    CodeLocked,
    CredentialsInvalid,
    InputRejected,
    PhoneUnverified,
    TokenInvalid,
)
from resolvers.usernames import looks_like_phone, normalize_username


@dataclass(frozen=True)
class SecondFactor:
    challenge: str
    sent_to: str
    expires_at: datetime


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the user and the session its access token belongs to."""

    user: User
    session_id: uuid.UUID


async def _find(deps: Deps, identifier: str) -> tuple[str, User | None]:
    """(account key, user) for a phone in any format or a username."""
    if looks_like_phone(identifier):
        try:
            phone = deps.normalize_phone(identifier)
        except InputRejected:
            raise InputRejected("identifier", "Enter your phone number or username.") from None
        return phone, await User.get_or_none(phone=phone)
    try:
        _, key = normalize_username(identifier)
    except InputRejected:
        raise InputRejected("identifier", "Enter your phone number or username.") from None
    return f"username:{key}", await User.get_or_none(username_key=key)


async def check_password(deps: Deps, user: User | None, password: str, account_key: str) -> User:
    """The user if the password is theirs; CredentialsInvalid (counted) otherwise.

    Every check, wherever it happens (login, or an operation that asks for the current
    password), first passes the account's budget: the day's failures and growing waits.
    A right password clears them.
    """
    await guards.password_budget(deps, account_key)
    if len(password) > deps.settings.password_max_length * 18:
        user = None  # refused without hashing; same answer as a wrong password
    elif user is None:
        await deps.passwords.verify_dummy(password)
    elif await deps.passwords.verify(user.password_hash, password):
        if deps.passwords.needs_rehash(user.password_hash):
            user.password_hash = await deps.passwords.hash(password)
            await User.filter(id=user.id).update(password_hash=user.password_hash)
        await guards.succeeded(deps, account_key)
        return user
    await guards.failed(deps, account_key)
    raise CredentialsInvalid()


async def login(
    deps: Deps, client: Client, identifier: str, password: str
) -> tokens.IssuedSession | SecondFactor:
    if not identifier.strip():
        raise InputRejected("identifier", "Enter your phone number or username.")
    if not password:
        raise InputRejected("password", "Enter your password.")
    await deps.limits.hit("login_per_client", client.address)
    account_key, user = await _find(deps, identifier)
    if user is not None:
        account_key = user.phone  # one count per account, whichever identifier is used
    user = await check_password(deps, user, password, account_key)
    if not user.is_verified:
        raise PhoneUnverified()
    if user.two_factor_enabled:
        return await _second_factor(deps, client, user)
    return await tokens.start_session(deps.tokens, user)


async def _second_factor(deps: Deps, client: Client, user: User) -> SecondFactor:
    await guards.sms_budget(deps, client, user.phone, purpose=codes.LOGIN)
    async with in_transaction():
        issued = await queue_code(
            deps,
            Action.LOGIN_CODE,
            purpose=codes.LOGIN,
            subject=user.phone,
            phone=user.phone,
            user_id=user.id,
            with_challenge=True,
        )
    deps.wake_outbox()
    assert issued.challenge is not None
    return SecondFactor(issued.challenge, mask_phone(user.phone), issued.expires_at)


async def verify_login(
    deps: Deps, client: Client, challenge: str, code_raw: str
) -> tokens.IssuedSession:
    await deps.limits.hit("verify_per_client", client.address)
    try:
        code = codes.check_format(deps.codes, code_raw)
    except InputRejected:
        raise CodeInvalid() from None

    row = await codes.find_challenge(deps.codes, challenge)
    if row is None:
        raise TokenInvalid()
    await deps.limits.test("failures_per_account", row.phone)

    async def complete(row: VerificationCode) -> tokens.IssuedSession:
        user = await User.get_or_none(id=row.user_id or 0, phone=row.phone, is_verified=True)
        if user is None:
            raise TokenInvalid()
        return await tokens.start_session(deps.tokens, user)

    try:
        return await codes.consume_row(deps.codes, row, code, complete)
    except (CodeInvalid, CodeLocked):
        await guards.failed(deps, row.phone)
        raise


async def refresh(deps: Deps, refresh_token: str) -> tokens.IssuedSession:
    return await tokens.rotate(deps.tokens, refresh_token)


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
    deps: Deps, caller: Caller | None, refresh_token: str | None, everywhere: bool
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
        await tokens.end_all_sessions(user)
        return
    for session_id in {caller.session_id if caller else None, session.id if session else None}:
        if session_id is not None:
            await tokens.revoke_sessions(user_id, only=session_id)
