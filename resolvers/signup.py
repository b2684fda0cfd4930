"""Signup, resending the signup code, phone verification, username availability.

The answers never depend on whether a phone is registered: signup with a verified phone
answers like a new one (its owner is told by SMS), and resend and verify work on a code row
that exists for unknown phones too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core.clock import now
from models import User, VerificationCode
from notifier.actions import Action
from resolvers import codes, guards, tokens
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid, CodeLocked, InputRejected, UsernameInUse
from resolvers.passwords import check_policy
from resolvers.usernames import normalize_username


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_at: datetime


def stale_before(deps: Deps) -> datetime:
    return now() - timedelta(seconds=deps.settings.unverified_ttl_seconds)


def live_accounts(deps: Deps) -> QuerySet[User]:
    """Accounts that hold their username: verified ones, and signups not yet stale."""
    return User.filter(Q(is_verified=True) | Q(created_at__gte=stale_before(deps)))


async def start(
    deps: Deps, client: Client, phone_raw: str, password: str, username_raw: str | None
) -> CodeSent:
    phone = deps.normalize_phone(phone_raw)
    username = normalize_username(username_raw) if username_raw else None
    context = (phone, *(username or ()))
    password = check_policy(password, context=context, **deps.password_limits())
    await guards.sms_budget(deps, client, phone, purpose=codes.SIGNUP)
    password_hash = await deps.passwords.hash(password)
    try:
        sent = await _start(deps, phone, username, password_hash)
    except IntegrityError:  # a parallel signup took the phone or username first
        sent = await _start(deps, phone, username, password_hash)
    deps.wake_outbox()
    return sent


async def _start(
    deps: Deps, phone: str, username: tuple[str, str] | None, password_hash: str
) -> CodeSent:
    async with in_transaction():
        user = await User.get_or_none(phone=phone)
        if user is not None and user.is_verified:
            return await _existing(deps, user)
        if username is not None:
            await _claim_username(deps, username[1], except_phone=phone)
        if user is None:
            user = await User.create(
                phone=phone,
                password_hash=password_hash,
                username=username[0] if username else None,
                username_key=username[1] if username else None,
            )
        else:  # the newest signup of an unverified phone wins
            user.password_hash = password_hash
            user.username, user.username_key = username or (None, None)
            user.created_at = now()
            await user.save()
        issued = await queue_code(
            deps,
            Action.VERIFY_SIGNUP,
            purpose=codes.SIGNUP,
            subject=phone,
            phone=phone,
            user_id=user.id,
        )
        return CodeSent(phone, issued.expires_at)


async def _existing(deps: Deps, user: User) -> CodeSent:
    """A verified phone: the same cooldown and answer as a new one; the owner is told."""
    issued = await codes.issue(
        deps.codes, purpose=codes.SIGNUP, subject=user.phone, phone=user.phone, user_id=None
    )
    await deps.outbox.enqueue(Action.SIGNUP_EXISTING, user.phone)
    return CodeSent(user.phone, issued.expires_at)


async def _claim_username(deps: Deps, key: str, *, except_phone: str) -> None:
    holder = await User.get_or_none(username_key=key)
    if holder is None or holder.phone == except_phone:
        return
    if not holder.is_verified and holder.created_at < stale_before(deps):
        await holder.delete()  # an abandoned signup never blocks a real one
        return
    raise UsernameInUse()


async def resend(deps: Deps, client: Client, phone_raw: str) -> CodeSent:
    """A new signup code for an unverified phone; for any other phone the same answer."""
    phone = deps.normalize_phone(phone_raw)
    await guards.sms_budget(deps, client, phone, purpose=codes.SIGNUP)
    async with in_transaction():
        user = await User.get_or_none(phone=phone, is_verified=False)
        issued = await queue_code(
            deps,
            Action.VERIFY_SIGNUP,
            purpose=codes.SIGNUP,
            subject=phone,
            phone=phone,
            user_id=user.id if user else None,
        )
    deps.wake_outbox()
    return CodeSent(phone, issued.expires_at)


async def verify(deps: Deps, client: Client, phone_raw: str, code_raw: str) -> tokens.IssuedSession:
    phone = deps.normalize_phone(phone_raw)
    code = codes.check_format(deps.codes, code_raw)
    await guards.guess_budget(deps, client, phone)

    async def complete(row: VerificationCode) -> tokens.IssuedSession:
        user = await User.get_or_none(id=row.user_id or 0, phone=phone, is_verified=False)
        if user is None:
            raise CodeInvalid()
        user.is_verified = True
        await user.save(update_fields=["is_verified", "updated_at"])
        await deps.outbox.enqueue(Action.SIGNUP_VERIFIED, phone)
        return await tokens.start_session(deps.tokens, user)

    try:
        session = await codes.consume(
            deps.codes, purpose=codes.SIGNUP, subject=phone, phone=phone, code=code, apply=complete
        )
    except (CodeInvalid, CodeLocked):
        await guards.failed(deps, phone)
        raise
    deps.wake_outbox()
    return session


async def username_available(deps: Deps, raw: str) -> bool:
    try:
        _, key = normalize_username(raw)
    except InputRejected:
        return False
    return not await live_accounts(deps).filter(username_key=key).exists()


async def purge_stale(deps: Deps) -> int:
    """Delete unverified signups past their lifetime (their phone and username are free)."""
    stale = User.filter(is_verified=False, created_at__lt=stale_before(deps))
    return await stale.delete()
