"""Second-factor proofs beyond SMS, for login and reset: which factors an account can use,
and a TOTP or recovery code checked (nothing written) then spent once, in the transaction
of what it allows (guarded UPDATEs: of parallel uses, one wins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.clock import now
from models import User, VerificationCode
from notifier.actions import Action
from resolvers import events, guards, languages, opening, tokens, totp
from resolvers.deps import Client, Deps
from resolvers.errors import CodeExpired, CodeInvalid, CodeLocked, InputRejected

SMS = "sms"
TOTP = "totp"
RECOVERY_CODE = "recovery_code"


def keys(deps: Deps) -> totp.TotpKeys:
    return totp.TotpKeys.from_secret(deps.settings.jwt_secret)


async def use_recovery_code(deps: Deps, client: Client | None, user: User, code: str) -> bool:
    """Use one recovery code of ``user`` (TOTP on): recorded and told by SMS; call in the
    transaction of what the code allows, so both commit together."""
    if not await totp.totp_enabled(user.id):
        return False
    if not await totp.use_recovery_code(keys(deps), user.id, code):
        return False
    await events.record(user.id, events.RECOVERY_CODE_USED, client)
    await deps.outbox.enqueue(Action.RECOVERY_CODE_USED, user.phone, locale=languages.of(user))
    return True


async def methods(user: User, *, totp_on: bool | None = None) -> list[str]:
    """The second factors a login of ``user`` can use: "sms", "totp", "recovery_code";
    ``totp_on`` when the caller read it with the user (totp.TOTP_ON)."""
    out = [SMS] if user.two_factor_enabled else []
    if totp_on if totp_on is not None else await totp.totp_enabled(user.id):
        out += [TOTP, RECOVERY_CODE]
    return out


@dataclass(frozen=True)
class Proof:
    """A second-factor code found right and unused (nothing written yet): ``spend`` uses it
    in the transaction of what it allows."""

    method: str  # "totp" | "recovery_code"
    code: str
    match: totp.TotpMatch | None


async def find_proof(deps: Deps, user: User, code: str, method: str | None = None) -> Proof | None:
    """The user's TOTP code or recovery code ``code`` if right and unused; ``method`` keeps
    to one kind ("totp", "recovery_code"), else the code's shape decides."""
    if not await totp.totp_enabled(user.id):
        return None
    as_totp = method == "totp" or (method is None and totp.looks_like_totp(code))
    if as_totp:
        match = await totp.find_totp(keys(deps), user.id, code)
        return Proof("totp", code, match) if match else None
    if await totp.recovery_code_unused(keys(deps), user.id, code):
        return Proof("recovery_code", code, None)
    return None


async def spend(deps: Deps, client: Client | None, user: User, proof: Proof) -> bool:
    """Use the proof, once (guarded UPDATEs): call in the transaction of what it allows."""
    if proof.match is not None:
        return await totp.use_step(
            proof.match.credential_id, proof.match.step, sealed=proof.match.sealed
        )
    return await use_recovery_code(deps, client, user, proof.code)


async def complete_login(
    deps: Deps, client: Client, row: VerificationCode, code: str, method: str
) -> tokens.IssuedSession:
    """Complete the login challenge ``row`` with a TOTP or recovery code instead of its SMS
    code. A wrong code counts against the challenge exactly as a wrong SMS code does (one
    guarded UPDATE; TooManyAttempts at the limit) and against the account's day of
    failures; the right one marks the challenge used and spends itself in one transaction."""
    at = now()
    if row.attempts >= deps.codes.max_attempts:
        raise CodeLocked()
    if row.expires_at <= at:
        raise CodeExpired()
    user = await User.get_or_none(id=row.user_id or 0, phone=row.phone, is_verified=True)
    account_key = f"user:{user.id}" if user else ""
    if user is not None:
        await deps.limits.test("failures_per_account", account_key)
    proof = None
    if user is not None and row.used_at is None:
        proof = await find_proof(deps, user, code, method)
    if user is not None and proof is not None:
        async with in_transaction():
            live = VerificationCode.filter(
                id=row.id, used_at=None, attempts__lt=deps.codes.max_attempts, expires_at__gt=at
            )
            if await live.update(used_at=at) != 1 or not await spend(deps, client, user, proof):
                raise CodeInvalid()  # used by a parallel request: nothing is kept
            session = await opening.open_session(deps.tokens, user, events.LOGIN, client)
        deps.wake_outbox()
        return session
    await count_wrong(deps, row, user)


async def count_wrong(deps: Deps, row: VerificationCode, user: User | None) -> NoReturn:
    """A wrong second-factor code for the challenge ``row``: counted against it as a wrong
    SMS code is (TooManyAttempts at the limit) and against the account's day of failures."""
    if user is not None:
        await guards.failed(deps, f"user:{user.id}")
    counted = await VerificationCode.filter(id=row.id, attempts__lt=deps.codes.max_attempts).update(
        attempts=F("attempts") + 1
    )
    if counted == 0 or row.attempts + 1 >= deps.codes.max_attempts:
        raise CodeLocked()
    raise CodeInvalid()


async def proof_for_reset(
    deps: Deps, row: VerificationCode, user: User, code: str | None
) -> Proof | None:
    """With TOTP on, the reset of ``row`` (its SMS code already found right) also needs a
    TOTP or recovery code: none given is InputRejected on secondFactorCode (nothing counted,
    the SMS code stays usable); a wrong one counts like a wrong SMS code. None with TOTP off."""
    if not await totp.totp_enabled(user.id):
        return None
    if not code or not code.strip():
        raise InputRejected(
            "secondFactorCode",
            "This account uses an authenticator app: give a code from it, or a recovery code.",
        )
    await deps.limits.test("failures_per_account", f"user:{user.id}")
    proof = await find_proof(deps, user, code.strip())
    if proof is None:
        await count_wrong(deps, row, user)
    return proof
