"""One-time codes: the table of code kinds, and the one ``issue`` and one ``check`` every
flow uses (signup, reset, login second factor, identity change).

Concurrency first. A code row changes only through guarded UPDATEs whose row count decides:
- a wrong guess: ``attempts = attempts + 1 WHERE attempts < max``, counted before the
  answer is returned, so aliases and parallel requests each count and at most ``max`` are
  ever evaluated. A used code counts wrong guesses like a live one (and reaches
  TooManyAttempts), so a used code answers exactly like a code nobody ever received;
- the right code: ``used_at = now WHERE used_at IS NULL AND attempts < max AND hash = h AND
  expires_at > now``, in the transaction of the change it allows, so of 20 parallel uses
  exactly one wins and its change commits with its message (through the outbox);
- a resend: only while the row still holds the send count and time we read, so of 30
  parallel resends exactly one goes out; a new row is an INSERT under the unique key
  (purpose, subject), and a parallel first code finds the row and waits like a resend.
  The read may be the request's earlier one (a phone's wait row, read for its limits and
  handed to ``claim_phone_wait``): the guard is the same, whenever the row was read. A
  subject made for its code (``fresh``: ``new_subject``, a new pending signup) has no row
  and nobody else can name it, so its code is a bare INSERT: no read, no savepoint (its row
  built by ``fresh_code``, which a statement chain writes too: resolvers/signup.py).

Binding. Signup, reset and login codes are bound to a challenge: an opaque random string
handed to the client, stored only as its keyed hash, by which the row is found. Without the
challenge nobody can reach the code, so a wrong guess can count only against that challenge's
code (and the client), never against an account, and no guess can be made before its code
exists. Every request gets a real challenge, also where no SMS goes (an unknown phone for a
reset, a registered phone for a signup, a wrong password while login steps up): a "decoy"
row (no user) that counts, locks and expires like any other, so no answer depends on
whether a phone is registered. Codes are HMAC-SHA256(key, purpose|user|phone|code), made
with ``secrets`` and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.queryset import UpdateQuery
from tortoise.transactions import in_transaction

from core.clock import now
from models import VerificationCode
from notifier.actions import Action
from resolvers.errors import (
    CodeExpired,
    CodeInvalid,
    CodeLocked,
    InputRejected,
    RateLimitExceeded,
)

T = TypeVar("T")

RESEND_WAIT = "Wait before asking for another code."
CHALLENGE_MAX = 128


class ResendWait(RateLimitExceeded):
    """A code's resend wait, not a budget: another request's code went out moments ago."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, RESEND_WAIT)


@dataclass(frozen=True)
class Kind:
    """One kind of code. Every difference between the flows is a field here."""

    purpose: str
    action: Action  # the SMS that carries the code
    bound_to: str  # what alone can reach the code (documentation; the subject's shape)
    malformed: str  # the answer to a code that is not N digits: "InvalidInput" | "InvalidCode"
    guess_counts_against: str  # documentation: every kind counts on the code and the client
    renews_dead: bool  # does a new request give a used or locked row a fresh count?


SIGNUP = Kind(
    "signup",
    Action.VERIFY_SIGNUP,
    "its challenge: one pending signup and phone",
    "InvalidInput",  # VerifyPhoneResult has InvalidInput; the client fixes a field
    "its challenge's code and the client",
    False,  # anyone holding the challenge may resend: a resend never buys more guesses
)
RESET = Kind(
    "reset",
    Action.RESET_PASSWORD,
    "its challenge: one reset request and phone",
    "InvalidInput",
    "its challenge's code and the client",
    False,  # no resend: another requestReset is another challenge
)
LOGIN = Kind(
    "login",
    Action.LOGIN_CODE,
    "its challenge: the account's login after the right password",
    "InvalidInput",  # VerifyLoginResult has InvalidInput (issue 11)
    "its challenge's code and the client",
    True,  # a new code needs the right password again
)
IDENTITY = Kind(
    "identity",
    Action.IDENTITY_CHANGE,
    "the logged-in account's pending change",
    "InvalidCode",  # ConfirmIdentityChangeResult has no InvalidInput
    "the code and the client",
    True,  # a new code needs the current password again
)
KINDS = {kind.purpose: kind for kind in (SIGNUP, RESET, LOGIN, IDENTITY)}


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
    code: str | None  # None: nothing to send (a decoy, or a resend of a dead code)
    expires_at: datetime
    challenge: str | None
    replaced: bool  # an earlier code of (purpose, subject) existed (its SMS may be queued)
    row_id: int = 0  # the code's row: its messages name it (deliveryStatus)

    def written_as(self, row_id: int) -> IssuedCode:
        return replace(self, row_id=row_id)


def generate_code(length: int) -> str:
    """Uniform over all ``length``-digit strings, leading zeros included."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(policy: CodePolicy, purpose: str, user_id: int | None, phone: str, code: str) -> str:
    message = f"{purpose}|{user_id or ''}|{phone}|{code}".encode()
    return hmac.new(policy.key, message, hashlib.sha256).hexdigest()


def challenge_hash(policy: CodePolicy, challenge: str) -> str:
    return hmac.new(policy.key, f"challenge|{challenge}".encode(), hashlib.sha256).hexdigest()


def new_subject(prefix: str) -> str:
    """A subject no other row has (for rows reached only through their challenge): its code
    is issued ``fresh`` (no look for an earlier row, none can exist)."""
    return f"{prefix}:{secrets.token_hex(12)}"


def check_format(policy: CodePolicy, kind: Kind, code: str) -> str:
    """The code's digits, or the kind's answer to a malformed code."""
    code = code.strip()
    if len(code) != policy.length or not code.isascii() or not code.isdigit():
        if kind.malformed == "InvalidCode":
            raise CodeInvalid()
        raise InputRejected("code", f"A code is {policy.length} digits.")
    return code


def ensure_cooled_down(row: VerificationCode | None, policy: CodePolicy, at: datetime) -> None:
    """RateLimitExceeded while the row's code is in its resend wait."""
    wait = cooldown_left(row, policy, at) if row is not None else 0
    if wait:
        raise ResendWait(wait)


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


def phone_subject(phone: str) -> str:
    return f"phone:{phone}"


async def phone_wait(kind: Kind, phone: str) -> VerificationCode | None:
    """The row holding the phone's resend wait for new challenges of this kind (None before
    the first): a phone gets codes no faster by asking for new challenges than by
    resending one. Read once per request: the same row is handed to ``claim_phone_wait``."""
    return await VerificationCode.get_or_none(purpose=kind.purpose, subject=phone_subject(phone))


async def claim_phone_wait(
    policy: CodePolicy, kind: Kind, phone: str, seen: VerificationCode | None
) -> None:
    """Start the phone's resend wait, or RateLimitExceeded: one guarded statement decides,
    so of 30 parallel requests for new challenges one goes on. ``seen`` is the row as
    ``phone_wait`` read it earlier in the request (None: there was none), not read again:
    the UPDATE holds only while the row still has the send count and time read there, so a
    request that read before another's claim loses (RateLimitExceeded), as one that read
    after it would; a first row made meanwhile by a parallel request is found by its unique
    key and waited on. The row is a decoy: no code and no challenge reach it."""
    draft = _draft(policy, kind, phone=phone, user_id=None, bind=False, decoy=True, channel="sms")
    await _issue_over(policy, kind, draft, phone_subject(phone), phone, seen)


async def find(
    policy: CodePolicy, kind: Kind, challenge: str, phone: str | None = None
) -> VerificationCode | None:
    """The row a challenge names (for that phone, if given), if any."""
    if not challenge or len(challenge) > CHALLENGE_MAX:
        return None
    row = await VerificationCode.get_or_none(
        purpose=kind.purpose, challenge_hash=challenge_hash(policy, challenge)
    )
    if row is None or (phone is not None and row.phone != phone):
        return None
    return row


@dataclass(frozen=True)
class _Draft:
    """A code about to be issued: what its row gets, and what the caller is handed."""

    at: datetime
    sent: str | None  # the code to send (None: a decoy)
    challenge: str | None
    expires_at: datetime
    fields: dict[str, Any]

    def issued(self, row_id: int, *, replaced: bool) -> IssuedCode:
        return IssuedCode(self.sent, self.expires_at, self.challenge, replaced, row_id)


def _draft(
    policy: CodePolicy,
    kind: Kind,
    *,
    phone: str,
    user_id: int | None,
    bind: bool,
    decoy: bool,
    channel: str,
) -> _Draft:
    at = now()
    code = generate_code(policy.length)
    if not decoy:
        code = policy.fixed_codes.get(phone) or code
    challenge = secrets.token_urlsafe(32) if bind else None
    expires_at = at + timedelta(seconds=policy.ttl_seconds)
    fields: dict[str, Any] = {
        "user_id": user_id,
        "code_hash": code_hash(policy, kind.purpose, user_id, phone, code),
        "expires_at": expires_at,
        "sent_at": at,
        "channel": channel,
    }
    if challenge:
        fields["challenge_hash"] = challenge_hash(policy, challenge)
    return _Draft(at, None if decoy else code, challenge, expires_at, fields)


async def issue(
    policy: CodePolicy,
    kind: Kind,
    *,
    subject: str,
    phone: str,
    user_id: int | None,
    bind: bool = False,
    decoy: bool = False,
    channel: str = "sms",
    fresh: bool = False,
) -> IssuedCode:
    """A new code for (kind, subject): the row's first, or a resend replacing its code.

    ``bind`` hands out a new challenge for it; ``decoy`` makes a row no code will ever
    match and nothing is sent for (same answers, cooldown and counting as a real one).
    RateLimitExceeded while the row is in its resend wait.

    ``fresh`` says the subject was made for this code and no row can have it yet
    (``new_subject``, a pending signup's id created in the caller's transaction): the row is
    inserted as it is, with no look for an earlier one and no savepoint, and nothing can be
    in its resend wait. A row already there would be a bug: its IntegrityError is raised
    (and rolls back the caller's transaction), never taken for a parallel request's row.
    """
    draft = _draft(
        policy, kind, phone=phone, user_id=user_id, bind=bind, decoy=decoy, channel=channel
    )
    if fresh:
        created = _fresh_row(kind, subject, phone, draft)
        await created.save(force_create=True)
        return draft.issued(created.id, replaced=False)
    row = await VerificationCode.get_or_none(purpose=kind.purpose, subject=subject)
    return await _issue_over(policy, kind, draft, subject, phone, row)


def fresh_code(
    policy: CodePolicy,
    kind: Kind,
    *,
    subject: str,
    phone: str,
    user_id: int | None,
    bind: bool = False,
    decoy: bool = False,
    channel: str = "sms",
) -> tuple[VerificationCode, IssuedCode]:
    """The row ``issue(..., fresh=True)`` inserts, not yet saved, and what its caller is
    handed (its ``row_id`` unknown until the row is written: ``IssuedCode.written_as``). A
    statement chain writes this row too (resolvers/signup.py)."""
    draft = _draft(
        policy, kind, phone=phone, user_id=user_id, bind=bind, decoy=decoy, channel=channel
    )
    return _fresh_row(kind, subject, phone, draft), draft.issued(0, replaced=False)


def _fresh_row(kind: Kind, subject: str, phone: str, draft: _Draft) -> VerificationCode:
    """The first row of (kind, subject), for ``draft``: every way a row is first written
    (``issue``, ``fresh_code``, ``_create_row``) builds it here."""
    return VerificationCode(
        purpose=kind.purpose, subject=subject, phone=phone, **draft.fields, send_count=1
    )


async def _issue_over(
    policy: CodePolicy,
    kind: Kind,
    draft: _Draft,
    subject: str,
    phone: str,
    row: VerificationCode | None,
) -> IssuedCode:
    """Issue ``draft`` for (kind, subject) whose row was read as ``row`` (None: none yet)."""
    at, fields, sent, expires_at = draft.at, draft.fields, draft.sent, draft.expires_at
    if row is None:  # the first code here: written as it is created, one statement
        created = await _create_row(_fresh_row(kind, subject, phone, draft))
        if created is not None:
            return draft.issued(created.id, replaced=False)
        row = await VerificationCode.get(purpose=kind.purpose, subject=subject)  # made meanwhile
    ensure_cooled_down(row, policy, at)
    dead = row.used_at is not None or row.attempts >= policy.max_attempts
    if dead and not kind.renews_dead:  # the wait still runs; the dead code stays dead
        fields = {
            "sent_at": at,
            "channel": fields["channel"],
            "challenge_hash": fields.get("challenge_hash", row.challenge_hash),
        }
        sent, expires_at = None, row.expires_at
    elif dead:  # a fresh lineage: a new count for a new code
        fields = {**fields, "attempts": 0, "used_at": None}
    in_streak = row.sent_at is not None and (
        (at - row.sent_at).total_seconds() < policy.cooldown_max_seconds
    )
    streak = row.send_count if in_streak else 0
    updated = await VerificationCode.filter(
        id=row.id, send_count=row.send_count, sent_at=row.sent_at
    ).update(**fields, phone=phone, send_count=streak + 1)
    if updated != 1:  # another request issued a code in between: that one counts
        raise ResendWait(policy.cooldown_seconds)
    return IssuedCode(sent, expires_at, draft.challenge, replaced=True, row_id=row.id)


async def rebind(policy: CodePolicy, row: VerificationCode, channel: str) -> IssuedCode | None:
    """A new challenge for the row's live code, nothing sent (the code's SMS is on its way
    or there): a second login within the resend wait answers like the first instead of
    RateLimited. None if the code is used, locked or expired (or changed meanwhile).
    The row takes the ``channel`` this request asked for, as a decoy's row does: its status
    (always QUEUED for login, resolvers/delivery.py) must not show the channel the code
    went by, which a wrong password's decoy cannot know."""
    challenge = secrets.token_urlsafe(32)
    updated = await VerificationCode.filter(
        id=row.id,
        used_at=None,
        attempts__lt=policy.max_attempts,
        expires_at__gt=now(),
        code_hash=row.code_hash,
    ).update(challenge_hash=challenge_hash(policy, challenge), channel=channel)
    if updated != 1:
        return None
    return IssuedCode(None, row.expires_at, challenge, replaced=True, row_id=row.id)


async def _create_row(row: VerificationCode) -> VerificationCode | None:
    """The new row, written, or None if a parallel request made it first."""
    try:
        if not _in_transaction():
            # Alone it is its own transaction (autocommit): a conflict aborts nothing, so
            # no BEGIN and COMMIT around it (two round trips for nothing).
            await row.save(force_create=True)
            return row
        # In the caller's transaction, a savepoint: a parallel request's row makes this
        # insert fail without aborting that transaction (PostgreSQL refuses every later
        # statement of an aborted one).
        async with in_transaction():
            await row.save(force_create=True)
            return row
    except IntegrityError:
        return None


def _in_transaction() -> bool:
    """Whether this task runs inside ``in_transaction()``. Tortoise's own test, the one by
    which ``in_transaction()`` chooses BEGIN or SAVEPOINT: in a transaction the context's
    connection (``connections.get``, what ``Model._meta.db`` returns) is that transaction's
    wrapper, a ``TransactionalDBClient`` (asyncpg's ``TransactionWrapper``, SQLite's
    ``SqliteTransactionWrapper``); outside one it is the pool's client, which is not."""
    return isinstance(VerificationCode._meta.db, TransactionalDBClient)


async def check(
    policy: CodePolicy,
    row: VerificationCode | None,
    code: str,
    apply: Callable[[VerificationCode], Awaitable[T]],
    *,
    prepare: Callable[[VerificationCode], Awaitable[None]] | None = None,
    serialize: str | None = None,
) -> T:
    """Use the row's code and ``apply`` the change it allows, atomically.

    CodeInvalid / CodeExpired / CodeLocked otherwise, a wrong guess counted (and committed)
    first. ``prepare`` runs once the code is known right, before it is used: if it raises
    (a weak new password), the code stays usable and nothing is counted. ``apply`` runs in
    the transaction that marks the code used: if it raises, nothing changes. ``serialize``
    names what the change touches beyond its own code (a phone's other signups): the
    changes that name the same key run one after another (see ``_serialized``).
    """
    if row is None:
        raise CodeInvalid()  # no code was issued for that challenge: nothing to count on
    at = now()
    if row.attempts >= policy.max_attempts:
        raise CodeLocked()
    if row.expires_at <= at:
        raise CodeExpired()
    expected = code_hash(policy, row.purpose, row.user_id, row.phone, code)
    if hmac.compare_digest(expected, row.code_hash) and row.used_at is None:
        if prepare is not None:
            await prepare(row)
        live = VerificationCode.filter(
            id=row.id, used_at=None, attempts__lt=policy.max_attempts, code_hash=row.code_hash
        )
        async with in_transaction() as connection:
            if serialize is not None:
                await _serialized(connection, serialize)
            if await live.filter(expires_at__gt=at).update(used_at=at) != 1:
                raise CodeInvalid()  # used or locked by a parallel request
            row.used_at = at
            return await apply(row)
    # A wrong guess, or a used code (answered alike: nobody can tell it was ever right).
    counted = await VerificationCode.filter(id=row.id, attempts__lt=policy.max_attempts).update(
        attempts=F("attempts") + 1
    )
    if counted == 0 or row.attempts + 1 >= policy.max_attempts:
        raise CodeLocked()
    raise CodeInvalid()


async def _serialized(connection: Any, key: str) -> None:
    """Hold a lock on ``key`` until the transaction ends, before its first write.

    Two verifications of one phone's signups (each with its own challenge and code) each
    use their code, then end the phone's other codes and signups: on PostgreSQL the first
    held its code's row and waited for the other's new account, which waited for that row
    (deadlock detected, 'Unexpected error.'). Taken first, a transaction-scoped advisory
    lock lines them up; it is released at commit or rollback, so the connection goes back to
    the pool holding nothing. SQLite runs one write transaction at a time already.
    """
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]
        )


async def forget(kind: Kind, **where: Any) -> None:
    """End the live codes of this kind matching ``where``, e.g. after the flow completed
    another way (a password reset ends a pending login)."""
    await forgetting(kind, **where)


def forgetting(kind: Kind, **where: Any) -> UpdateQuery:
    """The UPDATE ``forget`` runs, not yet run (a statement chain runs it too)."""
    live = VerificationCode.filter(purpose=kind.purpose, used_at=None, **where)
    return live.update(used_at=now())
