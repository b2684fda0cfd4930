"""One-time codes: issue, resend cooldown, and single-use consumption.

A code is stored only as HMAC-SHA256(key, purpose|user|phone|code), so it is bound to its
purpose, user and phone. Every state change is one guarded UPDATE whose row count decides:
- a wrong guess: ``attempts = attempts + 1 WHERE used_at IS NULL AND attempts < max``,
  counted before the answer is returned (aliases and parallel requests each count);
- the right code: ``used_at = now WHERE used_at IS NULL AND attempts < max AND hash = h``,
  so of 20 parallel uses exactly one wins;
- a (re)send: only while the row still holds the send count and time we read, so of 30
  parallel resends one goes out. The first code of (purpose, subject) is the INSERT of its
  row instead, and the unique key decides: a parallel first code finds the row and waits
  out its cooldown like any resend.
The wrong-guess count survives a resend; it starts again only after the code was used or
died of wrong guesses (each new lineage then costs an SMS to the real phone, which the
per-phone SMS limits bound).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.clock import now
from models import VerificationCode
from resolvers.errors import CodeExpired, CodeInvalid, CodeLocked, InputRejected, RateLimitExceeded

T = TypeVar("T")

RESEND_WAIT = "Wait before asking for another code."

SIGNUP = "signup"
RESET = "reset"
LOGIN = "login"
IDENTITY = "identity"


@dataclass(frozen=True)
class CodePolicy:
    key: bytes
    length: int
    ttl_seconds: int
    max_attempts: int
    cooldown_seconds: int
    cooldown_max_seconds: int
    fixed_codes: dict[str, str]


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    challenge: str | None
    replaced: bool  # an earlier code of (purpose, subject) existed (its SMS may be queued)


def generate_code(length: int) -> str:
    """Uniform over all ``length``-digit strings, leading zeros included."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(policy: CodePolicy, purpose: str, user_id: int | None, phone: str, code: str) -> str:
    message = f"{purpose}|{user_id or ''}|{phone}|{code}".encode()
    return hmac.new(policy.key, message, hashlib.sha256).hexdigest()


def challenge_hash(policy: CodePolicy, challenge: str) -> str:
    return hmac.new(policy.key, f"challenge|{challenge}".encode(), hashlib.sha256).hexdigest()


def check_format(policy: CodePolicy, code: str) -> str:
    code = code.strip()
    if len(code) != policy.length or not code.isascii() or not code.isdigit():
        raise InputRejected("code", f"A code is {policy.length} digits.")
    return code


async def _create_row(
    purpose: str, subject: str, phone: str, policy: CodePolicy, **fields: Any
) -> VerificationCode | None:
    """A new row (by default with an unguessable hash), or None if a parallel request made
    it first."""
    values: dict[str, Any] = {
        "code_hash": secrets.token_hex(32),
        "expires_at": now() + timedelta(seconds=policy.ttl_seconds),
        **fields,
    }
    try:
        # A savepoint: a parallel request's row makes this insert fail without aborting the
        # caller's transaction (PostgreSQL refuses every later statement of an aborted one).
        async with in_transaction():
            return await VerificationCode.create(
                purpose=purpose, subject=subject, phone=phone, **values
            )
    except IntegrityError:
        return None


def ensure_cooled_down(row: VerificationCode | None, policy: CodePolicy, at: datetime) -> None:
    """RateLimitExceeded while the row's code is in its resend wait."""
    wait = cooldown_left(row, policy, at) if row is not None else 0
    if wait:
        raise RateLimitExceeded(wait, RESEND_WAIT)


def cooldown_left(row: VerificationCode, policy: CodePolicy, at: datetime) -> int:
    """Seconds until another code may go out: the cooldown doubles with each resend."""
    if row.sent_at is None:
        return 0
    elapsed = (at - row.sent_at).total_seconds()
    if elapsed >= policy.cooldown_max_seconds:
        return 0
    gap = min(
        policy.cooldown_seconds * 2 ** max(int(row.send_count) - 1, 0), policy.cooldown_max_seconds
    )
    wait: int = math.ceil(gap - elapsed)
    return max(0, wait)


async def issue(
    policy: CodePolicy,
    *,
    purpose: str,
    subject: str,
    phone: str,
    user_id: int | None,
    payload: str | None = None,
    with_challenge: bool = False,
) -> IssuedCode:
    """A new code for (purpose, subject), replacing the old one; RateLimitExceeded in cooldown.

    Runs for unknown phones too (user_id None): the caller then sends nothing, but the
    cooldown and the answers stay the same as for a real account.
    """
    at = now()
    code = policy.fixed_codes.get(phone) or generate_code(policy.length)
    challenge = secrets.token_urlsafe(32) if with_challenge else None
    expires_at = at + timedelta(seconds=policy.ttl_seconds)
    fields: dict[str, object] = {
        "user_id": user_id,
        "code_hash": code_hash(policy, purpose, user_id, phone, code),
        "challenge_hash": challenge_hash(policy, challenge) if challenge else None,
        "payload": payload,
        "expires_at": expires_at,
        "sent_at": at,
    }
    row = await VerificationCode.get_or_none(purpose=purpose, subject=subject)
    if row is None:  # the first code here: written as it is created, one statement
        if await _create_row(purpose, subject, phone, policy, **fields, send_count=1) is not None:
            return IssuedCode(code, expires_at, challenge, replaced=False)
        row = await VerificationCode.get(purpose=purpose, subject=subject)  # made meanwhile
    ensure_cooled_down(row, policy, at)
    fresh_lineage = row.used_at is not None or row.attempts >= policy.max_attempts
    in_streak = row.sent_at is not None and (
        (at - row.sent_at).total_seconds() < policy.cooldown_max_seconds
    )
    streak = row.send_count if in_streak else 0
    updated = await VerificationCode.filter(
        id=row.id, send_count=row.send_count, sent_at=row.sent_at
    ).update(
        **fields,
        phone=phone,
        attempts=0 if fresh_lineage else row.attempts,
        send_count=streak + 1,
        used_at=None,
    )
    if updated != 1:  # another request issued a code in between: that one counts
        raise RateLimitExceeded(policy.cooldown_seconds, RESEND_WAIT)
    return IssuedCode(code, expires_at, challenge, replaced=True)


async def consume(
    policy: CodePolicy,
    *,
    purpose: str,
    subject: str,
    phone: str,
    code: str,
    apply: Callable[[VerificationCode], Awaitable[T]],
) -> T:
    """Use the code of (purpose, subject) and ``apply`` the change it allows, atomically.

    Raises CodeInvalid / CodeExpired / CodeLocked; a wrong guess is counted (and committed)
    before that. ``apply`` runs in the transaction that marks the code used, so if it
    raises, the code stays unused and nothing changes.
    """
    row = await VerificationCode.get_or_none(purpose=purpose, subject=subject)
    if row is None:
        # No code was ever issued here, so the guess is wrong: the row is made already
        # counting it, one statement, as a wrong guess on an existing row costs one.
        if await _create_row(purpose, subject, phone, policy, attempts=1) is not None:
            raise CodeLocked() if policy.max_attempts <= 1 else CodeInvalid()
        row = await VerificationCode.get(purpose=purpose, subject=subject)
    return await consume_row(policy, row, code, apply)


async def find_challenge(policy: CodePolicy, challenge: str) -> VerificationCode | None:
    """The login-code row a two-factor challenge names, if any."""
    if not challenge or len(challenge) > 128:
        return None
    return await VerificationCode.get_or_none(
        purpose=LOGIN, challenge_hash=challenge_hash(policy, challenge)
    )


async def consume_row(
    policy: CodePolicy,
    row: VerificationCode,
    code: str,
    apply: Callable[[VerificationCode], Awaitable[T]],
) -> T:
    if row.attempts >= policy.max_attempts:
        raise CodeLocked()
    if row.used_at is not None:
        raise CodeInvalid()
    at = now()
    if row.expires_at <= at:
        raise CodeExpired()
    expected = code_hash(policy, row.purpose, row.user_id, row.phone, code)
    live = VerificationCode.filter(
        id=row.id, used_at=None, attempts__lt=policy.max_attempts, code_hash=row.code_hash
    )
    if hmac.compare_digest(expected, row.code_hash):
        async with in_transaction():
            if await live.filter(expires_at__gt=at).update(used_at=at) != 1:
                raise CodeInvalid()  # used or locked by a parallel request
            row.used_at = at
            return await apply(row)
    counted = await live.update(attempts=F("attempts") + 1)
    if counted == 0:
        fresh = await VerificationCode.get(id=row.id)
        raise CodeLocked() if fresh.attempts >= policy.max_attempts else CodeInvalid()
    if row.attempts + 1 >= policy.max_attempts:
        raise CodeLocked()
    raise CodeInvalid()


async def forget(purpose: str, subject: str) -> None:
    """End any live code of (purpose, subject), e.g. after the flow completed another way."""
    await VerificationCode.filter(purpose=purpose, subject=subject, used_at=None).update(
        used_at=now()
    )
