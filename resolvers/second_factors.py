"""The caller's second factors beyond SMS: set up, confirm and turn off an authenticator app
(TOTP), and make new recovery codes. Each asks for the current password (rate limited per
account, like every password check) except confirmTotp, which asks for a code of the new
secret (counted like any code guess). Each change is recorded in the security history and
told by SMS, in the transaction that makes it."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core.clock import now
from models import RecoveryCode, TotpCredential, User
from notifier.actions import Action
from notifier.outbox import Outbox
from resolvers import events, guards, languages, proofs, tokens, totp
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid
from resolvers.sessions import Caller, check_password


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


async def _confirm_password(deps: Deps, caller: Caller, current_password: str) -> User:
    await deps.limits.hit("account_ops", str(caller.user.id))
    return await check_password(deps, caller.user, current_password)


async def setup(deps: Deps, caller: Caller, current_password: str) -> TotpSetup:
    """A new secret awaiting confirmTotp; TOTP already on stays on with its old secret
    until the new one is confirmed."""
    user = await _confirm_password(deps, caller, current_password)
    secret = totp.new_secret()
    sealed = totp.seal(proofs.keys(deps), user.id, secret)
    credential, created = await TotpCredential.get_or_create(
        user_id=user.id, defaults={"pending_sealed": sealed}
    )
    if not created:
        await TotpCredential.filter(id=credential.id).update(pending_sealed=sealed)
    return TotpSetup(secret, totp.provisioning_uri(secret, user.username or user.phone))


async def confirm(deps: Deps, client: Client, caller: Caller, code: str) -> list[str]:
    """Turn TOTP on with a code of the pending secret; the first ten recovery codes."""
    user = caller.user
    await guards.guess_budget(deps, client)
    await deps.limits.test("failures_per_account", f"user:{user.id}")
    credential = await TotpCredential.get_or_none(user_id=user.id, pending_sealed__isnull=False)
    pending = credential.pending_sealed if credential else None
    secret = totp.unseal(proofs.keys(deps), user.id, pending) if pending else None
    step = totp.matching_step(secret, code) if secret else None
    if credential is None or step is None:
        await guards.failed(deps, f"user:{user.id}")
        raise CodeInvalid()
    async with in_transaction():
        # Only the secret this code was checked against; the code's step is used up.
        turned_on = await TotpCredential.filter(id=credential.id, pending_sealed=pending).update(
            secret_sealed=pending, pending_sealed=None, last_step=step, enabled_at=now()
        )
        if turned_on != 1:
            raise CodeInvalid()
        recovery = await totp.replace_recovery_codes(proofs.keys(deps), user.id)
        await events.record(user.id, events.TOTP_ENABLED, client)
        await deps.outbox.enqueue(
            Action.TOTP_CHANGED, user.phone, state="on", locale=languages.of(user)
        )
    deps.wake_outbox()
    return recovery


async def disable(deps: Deps, client: Client, caller: Caller, current_password: str) -> User:
    """TOTP off and the recovery codes gone (nothing to do if it was off)."""
    user = await _confirm_password(deps, caller, current_password)
    async with in_transaction():
        was_on = await TotpCredential.exists(user_id=user.id, secret_sealed__isnull=False)
        await TotpCredential.filter(user_id=user.id).delete()
        await RecoveryCode.filter(user_id=user.id).delete()
        if was_on:
            await events.record(user.id, events.TOTP_DISABLED, client)
            await deps.outbox.enqueue(
                Action.TOTP_CHANGED, user.phone, state="off", locale=languages.of(user)
            )
    deps.wake_outbox()
    return user


async def regenerate_recovery_codes(
    deps: Deps, client: Client, caller: Caller, current_password: str
) -> list[str]:
    """Ten new recovery codes; every earlier one stops working."""
    user = await _confirm_password(deps, caller, current_password)
    async with in_transaction():
        recovery = await totp.replace_recovery_codes(proofs.keys(deps), user.id)
        await events.record(user.id, events.RECOVERY_CODES_REGENERATED, client)
        await deps.outbox.enqueue(
            Action.RECOVERY_CODES_REGENERATED, user.phone, locale=languages.of(user)
        )
    deps.wake_outbox()
    return recovery


OPERATOR = Client("operator", ip_address=None, user_agent="operator: main.py disable-totp")


async def operator_disable(deps_outbox: Outbox, phone: str) -> User | None:
    """For a person who lost both the authenticator app and the recovery codes, after an
    operator checked their identity outside phonegate: TOTP off, recovery codes and every
    session ended, recorded and told by SMS. None if no verified account has the phone."""
    user = await User.get_or_none(phone=phone, is_verified=True)
    if user is None:
        return None
    async with in_transaction():
        await TotpCredential.filter(user_id=user.id).delete()
        await RecoveryCode.filter(user_id=user.id).delete()
        await tokens.end_all_sessions(user)
        await events.record(user.id, events.TOTP_DISABLED, OPERATOR)
        await deps_outbox.enqueue(
            Action.TOTP_CHANGED, user.phone, state="off", locale=languages.of(user)
        )
    return user
