"""Password reset by SMS: a request changes nothing; completing it logs nobody in and ends
every session. Unknown and unverified phones get the same answers and no SMS."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import User, VerificationCode
from notifier.actions import Action
from resolvers import codes, guards, tokens
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid
from resolvers.passwords import check_policy
from resolvers.signup import CodeSent


async def request(deps: Deps, client: Client, phone_raw: str) -> CodeSent:
    phone = deps.normalize_phone(phone_raw)
    await guards.sms_budget(deps, client, phone, purpose=codes.RESET)
    async with in_transaction():
        user = await User.get_or_none(phone=phone, is_verified=True)
        issued = await queue_code(
            deps,
            Action.RESET_PASSWORD,
            purpose=codes.RESET,
            subject=phone,
            phone=phone,
            user_id=user.id if user else None,
        )
    deps.wake_outbox()
    return CodeSent(phone, issued.expires_at)


async def complete(
    deps: Deps, client: Client, phone_raw: str, code_raw: str, new_password: str
) -> None:
    phone = deps.normalize_phone(phone_raw)
    code = codes.check_format(deps.codes, code_raw)
    await deps.limits.hit("verify_per_client", client.address)
    holder = await User.get_or_none(phone=phone, is_verified=True)
    context = (phone, holder.username or "") if holder else (phone,)
    password = check_policy(new_password, context=context, **deps.password_limits())
    password_hash = await deps.passwords.hash(password)

    async def apply(row: VerificationCode) -> None:
        user = await User.get_or_none(id=row.user_id or 0, phone=phone, is_verified=True)
        if user is None:
            raise CodeInvalid()
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash", "updated_at"])
        await tokens.end_all_sessions(user)
        await codes.forget(codes.LOGIN, phone)
        await deps.outbox.enqueue(Action.PASSWORD_RESET, phone)

    await codes.consume(
        deps.codes, purpose=codes.RESET, subject=phone, phone=phone, code=code, apply=apply
    )
    await guards.succeeded(deps, phone)
    deps.wake_outbox()
