"""Password reset by SMS: a request changes nothing; completing it logs nobody in, ends every
session, a pending two-factor login and a pending identity change.

Each request gets its own challenge; only that challenge with its code completes it. Unknown
and unverified phones get a decoy challenge (no SMS) that counts, locks and expires like a
real one. The code is checked before the new password, so no answer depends on the account
behind a wrong code, and a right code refused for a weak password stays usable.
"""

from __future__ import annotations

from models import User, VerificationCode
from notifier.actions import Action
from resolvers import codes, events, guards, languages, proofs, tokens
from resolvers.delivery import queue_code
from resolvers.deps import Client, Deps
from resolvers.errors import CodeInvalid
from resolvers.passwords import check_policy
from resolvers.signup import CodeSent


async def request(deps: Deps, client: Client, phone_raw: str, channel: str = "sms") -> CodeSent:
    """A reset challenge; its code goes by ``channel`` in the account's language. The
    channel is checked and every budget counted before the account is looked up."""
    channel = deps.channel(channel)
    phone = deps.normalize_phone(phone_raw)
    wait_on = await codes.phone_wait(codes.RESET, phone)
    await guards.sms_budget(deps, client, phone, wait_on=wait_on, channel=channel)
    await codes.claim_phone_wait(deps.codes, codes.RESET, phone, wait_on)
    async with deps.outbox.committing():  # its messages go out as it commits
        user = await User.get_or_none(phone=phone, is_verified=True)
        issued = await queue_code(
            deps,
            codes.RESET,
            subject=codes.new_subject("reset"),
            fresh=True,
            phone=phone,
            user_id=user.id if user else None,
            bind=True,
            decoy=user is None,
            channel=channel,
            locale=languages.of(user) if user else languages.DEFAULT_LOCALE,
        )
    assert issued.challenge is not None
    return CodeSent(phone, issued.expires_at, issued.challenge)


async def complete(
    deps: Deps,
    client: Client,
    phone_raw: str,
    challenge: str,
    code_raw: str,
    new_password: str,
    second_factor_code: str | None = None,
) -> None:
    """With the authenticator app on, the SMS code alone is not enough: ``second_factor_code``
    (a TOTP or recovery code) is checked once the SMS code is known right (proofs.py), so a
    lost or recycled phone number cannot take the account."""
    phone = deps.normalize_phone(phone_raw)
    code = codes.check_format(deps.codes, codes.RESET, code_raw)
    await guards.guess_budget(deps, client)
    row = await codes.find(deps.codes, codes.RESET, challenge, phone)
    password_hash = ""
    proof: proofs.Proof | None = None

    async def prepare(row: VerificationCode) -> None:  # only once the code is known right
        nonlocal password_hash, proof
        holder = await User.get_or_none(id=row.user_id or 0)
        if holder is not None:
            proof = await proofs.proof_for_reset(deps, row, holder, second_factor_code)
        context = (phone, holder.username or "") if holder else (phone,)
        password = check_policy(new_password, context=context, **deps.password_limits())
        password_hash = await deps.passwords.hash(password)

    async def apply(row: VerificationCode) -> User:
        user = await User.get_or_none(id=row.user_id or 0, phone=phone, is_verified=True)
        if user is None:
            raise CodeInvalid()
        if proof is not None and not await proofs.spend(deps, client, user, proof):
            raise CodeInvalid()  # spent by a parallel request meanwhile
        user.password_hash = password_hash
        user.pending_phone = user.pending_username = user.pending_username_key = None
        await user.save(
            update_fields=[
                "password_hash",
                "pending_phone",
                "pending_username",
                "pending_username_key",
                "updated_at",
            ]
        )
        await tokens.end_all_sessions(user)
        await codes.forget(codes.LOGIN, user_id=user.id)  # a pending two-factor login ends
        await codes.forget(codes.IDENTITY, user_id=user.id)  # so does an identity change
        await deps.outbox.enqueue(Action.PASSWORD_RESET, phone, locale=languages.of(user))
        await events.record(user.id, events.PASSWORD_RESET, client)
        return user

    async with deps.outbox.handing_over():  # the password_reset notice goes out at once
        user = await codes.check(deps.codes, row, code, apply, prepare=prepare)
    usernames = (f"username:{user.username_key}",) if user.username_key else ()
    await guards.succeeded(deps, phone, *usernames)
