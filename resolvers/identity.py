"""Changing the phone or username: stored pending, confirmed by a code.

The code goes to the new phone when the phone changes, else to the current phone. Nothing
changes until confirmation, which re-checks that the phone and username are still free
(the database's unique constraints decide a race) and tells the old phone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.masking import mask_phone
from models import User, VerificationCode
from notifier.actions import Action
from resolvers import codes, events, guards, languages, tokens
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid, InputRejected, PhoneInUse, UsernameInUse
from resolvers.sessions import Caller, check_password
from resolvers.signup import live_accounts
from resolvers.usernames import normalize_username


@dataclass(frozen=True)
class ChangePending:
    sent_to: str
    expires_at: datetime


def _subject(user: User) -> str:
    return f"user:{user.id}"


async def request(
    deps: Deps,
    client: Client,
    caller: Caller,
    current_password: str,
    phone_raw: str | None,
    username_raw: str | None,
) -> ChangePending:
    user = caller.user
    phone = deps.normalize_phone(phone_raw) if phone_raw else None
    username = normalize_username(username_raw) if username_raw else None
    if phone == user.phone:
        phone = None
    if username and username[0] == user.username:
        username = None
    if phone is None and username is None:
        raise InputRejected("phone", "Give a new phone number or a new username.")
    await deps.limits.hit("account_ops", str(user.id))
    user = await check_password(deps, user, current_password)
    if phone is not None:
        await _check_phone_free(deps, phone, user)
    if username is not None:
        await _check_username_free(deps, username[1], user)
    destination = phone or user.phone
    wait_on = await VerificationCode.get_or_none(
        purpose=codes.IDENTITY.purpose, subject=_subject(user)
    )
    await guards.sms_budget(deps, client, destination, wait_on=wait_on)
    async with in_transaction():
        user.pending_phone = phone
        user.pending_username, user.pending_username_key = username or (None, None)
        await user.save(update_fields=["pending_phone", "pending_username", "pending_username_key"])
        issued = await queue_code(
            deps,
            codes.IDENTITY,
            subject=_subject(user),
            phone=destination,
            user_id=user.id,
            locale=languages.of(user),
        )
        if phone is not None:  # the old phone hears of it at once (no secret in it)
            await deps.outbox.enqueue(
                Action.IDENTITY_CHANGE_REQUESTED, user.phone, locale=languages.of(user)
            )
    deps.wake_outbox()
    return ChangePending(mask_phone(destination), issued.expires_at)


async def _check_phone_free(deps: Deps, phone: str, user: User) -> None:
    """Only a verified account holds a phone: an unverified signup of it gives way to the
    user who proves the phone with the code (it could be anyone's attempt to block it)."""
    if await User.filter(phone=phone, is_verified=True).exclude(id=user.id).exists():
        raise PhoneInUse()


async def _check_username_free(deps: Deps, key: str, user: User) -> None:
    if await live_accounts(deps).filter(username_key=key).exclude(id=user.id).exists():
        raise UsernameInUse()


async def confirm(deps: Deps, client: Client, caller: Caller, code_raw: str) -> User:
    user = caller.user
    await guards.guess_budget(deps, client)
    code = codes.check_format(deps.codes, codes.IDENTITY, code_raw)
    row = await VerificationCode.get_or_none(
        purpose=codes.IDENTITY.purpose, subject=_subject(user), user_id=user.id
    )

    async def apply(row: VerificationCode) -> User:
        fresh = await User.get(id=user.id)
        if fresh.pending_phone is None and fresh.pending_username_key is None:
            raise CodeInvalid()
        changed = await _apply_change(deps, fresh, keep=caller.session_id)
        await events.record(user.id, events.IDENTITY_CHANGED, client)
        return changed

    changed = await codes.check(deps.codes, row, code, apply)
    deps.wake_outbox()
    return changed


async def _apply_change(deps: Deps, user: User, *, keep: uuid.UUID) -> User:
    old_phone = user.phone
    if user.pending_phone:
        await _check_phone_free(deps, user.pending_phone, user)
        await User.filter(phone=user.pending_phone, is_verified=False).delete()
        user.phone = user.pending_phone
    if user.pending_username_key:
        await _check_username_free(deps, user.pending_username_key, user)
        await User.filter(username_key=user.pending_username_key, is_verified=False).delete()
        user.username, user.username_key = user.pending_username, user.pending_username_key
    user.pending_phone = user.pending_username = user.pending_username_key = None
    try:
        async with in_transaction():
            await user.save()
    except IntegrityError:
        raise (PhoneInUse() if user.phone != old_phone else UsernameInUse()) from None
    await deps.outbox.enqueue(Action.IDENTITY_CHANGED, old_phone, locale=languages.of(user))
    await tokens.revoke_sessions(user.id, keep=keep)  # every other session ends
    return user
