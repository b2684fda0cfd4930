"""What a logged-in user does with the current password: change it, turn two-factor login
on or off, delete the account. Each is rate limited per account and sends a notice."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import User, VerificationCode
from notifier.actions import Action
from resolvers import events, languages, opening, tokens
from resolvers.deps import Client, Deps
from resolvers.passwords import check_policy
from resolvers.sessions import Caller, check_password


async def _confirm(deps: Deps, caller: Caller, current_password: str) -> User:
    await deps.limits.hit("account_ops", str(caller.user.id))
    return await check_password(deps, caller.user, current_password)


async def change_password(
    deps: Deps,
    caller: Caller,
    current_password: str,
    new_password: str,
    client: Client | None = None,
) -> tokens.IssuedSession:
    """A new password; every other session ends, the caller gets a fresh one."""
    user = await _confirm(deps, caller, current_password)
    context = (user.phone, user.username or "")
    password = check_policy(new_password, context=context, **deps.password_limits())
    password_hash = await deps.passwords.hash(password)
    async with in_transaction():
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash", "updated_at"])
        await tokens.end_all_sessions(user)
        await deps.outbox.enqueue(Action.PASSWORD_CHANGED, user.phone, locale=languages.of(user))
        session = await opening.open_session(deps.tokens, user, events.PASSWORD_CHANGED, client)
    deps.wake_outbox()
    return session


async def set_two_factor(
    deps: Deps, caller: Caller, current_password: str, enabled: bool, client: Client | None = None
) -> User:
    user = await _confirm(deps, caller, current_password)
    async with in_transaction():
        if user.two_factor_enabled != enabled:
            user.two_factor_enabled = enabled
            await user.save(update_fields=["two_factor_enabled", "updated_at"])
            await deps.outbox.enqueue(
                Action.TWO_FACTOR_CHANGED,
                user.phone,
                state="on" if enabled else "off",
                locale=languages.of(user),
            )
            await events.record(user.id, events.TWO_FACTOR_CHANGED, client)
    deps.wake_outbox()
    return user


async def delete(deps: Deps, caller: Caller, current_password: str) -> None:
    user = await _confirm(deps, caller, current_password)
    async with in_transaction():
        await deps.outbox.enqueue(Action.ACCOUNT_DELETED, user.phone, locale=languages.of(user))
        await VerificationCode.filter(user_id=user.id).delete()
        await user.delete()
    deps.wake_outbox()
