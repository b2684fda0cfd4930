"""The outbox: messages written with the change that causes them, sent after commit.

States of a message (models/outbox.py)::

    queued -> sending -> sent -> delivered | undelivered | failed     (status callbacks)
                 |  \\-> queued      a transient failure: tried again after a backoff
                 \\----> abandoned   refused for good, last try spent, code expired or
                                    superseded by a newer code
    suppressed                      a TEST_PHONE_CODES number: never sent
    queued -> merged                a notice sent within another notice's SMS (below)

Every try is a MessageAttempt row (time, outcome, provider error code). Outcomes: ``sent``,
``found`` (an earlier try had reached the provider), ``error`` (transient), ``unknown``
(the provider may have accepted it: timeout, lost connection), ``refused`` (permanent),
``expired``, ``superseded``, ``lost`` (its worker died mid-send), ``interrupted`` (its
worker was stopped mid-send), ``held`` (a notice over the SMS budget, waiting), ``merged``
(sent within another notice's SMS); callbacks add ``delivered`` / ``undelivered`` / ``failed``,
the operator's ``main.py outbox --retry`` adds ``requeued``.

``Outbox.enqueue`` runs inside the caller's transaction. A flow whose transaction is
``Outbox.committing()`` hands its messages to this process's worker as that transaction
commits: the worker claims each by its id at once, with the same guarded UPDATE as any
claim, so no poll has to look for it. The UPDATE is also what makes this safe: it names the
row's hand-over token (a random value written with the row), so a row that did not commit
(its transaction or a savepoint in it rolled back) or another row that took its id
(SQLite may reuse the id of a rolled-back row) is never claimed, and nothing is sent for
it. Unclaimed (no free slot, a failure), a handed-over message is an ordinary queued one.
The ``OutboxWorker`` claims due
messages with one guarded UPDATE each (the state and claim token it read), so exactly one
worker wins each claim, across processes, on SQLite and PostgreSQL alike. A claim holds a
lease that its live worker renews every third of it; a message left in "sending" by a
dead worker is claimed again once the lease expires.
Sends run outside any transaction, several at once, each bounded by the sender's timeout.

Nothing lost, nothing twice: before trying again after an uncertain try, the worker asks
the provider whether it already accepted the message (``Reconciler.find_sent``) and
records that instead of sending a second copy. Transient failures are retried with capped
exponential backoff and jitter; permanent ones are not. A code message whose code has
expired (or been replaced by a newer one) is not sent late.

Notices (messages without a code: signup_verified, password_changed, two_factor_changed,
...) are SMS too, so they count in the per-phone and global SMS budgets, here, where the SMS
goes out: when the worker is about to send a notice for the first time it asks the
``budget`` (resolvers.guards.notice_budget over the shared rate limits, wired by the app) to
count one SMS to the phone. Over budget, the notice is ``held``: queued again until the
budget has room (its try count unchanged), never dropped; a newer notice waits the same way
behind an older one to its phone, so notices arrive in the order written. When a notice
that had to wait is admitted, it absorbs the later notices queued for the same phone, held
or new, up to the first one not queued, with one guarded UPDATE each (queued -> merged),
and their texts go out in its one SMS (a repeated text once, at its last place, so "two-
step login turned on ... off" ends with the current state). The merged text is stored on
the sending message before the send, so a retry after a failure sends the same text and the
absorbed notices are never lost; one SMS is one unit of budget, so a burst of notices (12
two-factor toggles) sends at most what the budget allows, and the rest arrives together
once it has room. Codes are counted when they are asked for (resolvers.guards.sms_budget),
not again here, and so is ``signup_existing`` (notifier.actions.COUNTED_AT_REQUEST).

Bodies hold codes: they are cleared once a message is final. Only an abandoned notice
(no code in it) that an operator could still send keeps its body for ``--retry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from core import metrics
from core.clock import now
from models import MessageAttempt, OutboxMessage, rows
from models.faults import DependencyUnavailable
from notifier.actions import CODE_ACTIONS, COUNTED_AT_REQUEST, Action
from notifier.senders import Reconciler, Sender, SendError
from notifier.templates import Templates

log = logging.getLogger("phonegate.outbox")

QUEUED, SENDING, SENT, ABANDONED, SUPPRESSED, MERGED = (
    "queued",
    "sending",
    "sent",
    "abandoned",
    "suppressed",
    "merged",
)
DELIVERED, UNDELIVERED, FAILED = "delivered", "undelivered", "failed"
# The channels a message can go by (issue 16); the sender gets the channel unless it is SMS.
SMS, VOICE, WHATSAPP = "sms", "voice", "whatsapp"
CHANNELS = (SMS, VOICE, WHATSAPP)
FINAL = frozenset({ABANDONED, SUPPRESSED, DELIVERED, UNDELIVERED, FAILED, MERGED})
NOTICES = sorted(a.value for a in Action if a not in CODE_ACTIONS)
# Notices another notice's SMS may take in. Not signup_existing: it stands in for a signup's
# code, goes on its own by the channel the signup asked for, and deliveryStatus shows it as
# that signup's message (resolvers/delivery.py); merged, it would stay "queued" there and
# tell a registered phone from a new one.
MERGEABLE = sorted(set(NOTICES) - {a.value for a in COUNTED_AT_REQUEST})
# What a notice that had to wait (over the budget, or behind an older notice) says until it
# is sent; only such a notice takes in the notices queued after it: one that goes out at
# once keeps its own SMS and action type.
HELD = "held: over the SMS budget or behind an older notice"
# A notice waits this long when the budget itself cannot be asked (fail closed).
BUDGET_UNKNOWN_WAIT_SECONDS = 5
# Seconds to wait before a notice to this phone may go out (0: counted, send now).
NoticeBudget = Callable[[str], Awaitable[int]]
# Twilio's MessageStatus values that settle a sent message; the others (accepted, queued,
# sending, sent, ...) say no more than "sent" already does.
CALLBACK_STATES = {
    "delivered": DELIVERED,
    "read": DELIVERED,
    "undelivered": UNDELIVERED,
    "failed": FAILED,
    "canceled": FAILED,
    # a call's CallStatus: answered, or not
    "completed": DELIVERED,
    "busy": UNDELIVERED,
    "no-answer": UNDELIVERED,
}
# Outcomes after which the provider may hold the message although we did not hear so.
UNCERTAIN = frozenset({"unknown", "lost", "interrupted"})
SUPERSEDED = "superseded by a newer code"
# Codes the flows keep one of per phone (resolvers: codes keyed by purpose and phone), so a
# newer message of the kind to the same phone carries the only live code. An identity
# change code is keyed by the account instead: two accounts may send one to the same phone.
REPLACEABLE = frozenset({Action.VERIFY_SIGNUP, Action.LOGIN_CODE, Action.RESET_PASSWORD})
REPLACEABLE_VALUES = frozenset(a.value for a in REPLACEABLE)
# Superseded at send time by any newer message of its kind to the phone: login codes only
# (one per phone). Signup and reset codes belong each to its own challenge (issue 11): a
# newer one may be another signup's, and must not stop this one; a resend of the same
# challenge ends the queued one when it is queued (``replaces``).
SUPERSEDED_AT_SEND = frozenset({Action.LOGIN_CODE})
# How far back an uncertain try is looked for at the provider (clock skew included).
RECONCILE_MARGIN = timedelta(minutes=5)


# The messages queued within the current ``Outbox.committing`` transaction.
_BATCH: contextvars.ContextVar[list[OutboxMessage] | None] = contextvars.ContextVar(
    "outbox_batch", default=None
)


@dataclass
class Outbox:
    """What a flow needs to queue a message."""

    templates: Templates
    suppressed_phones: frozenset[str] = frozenset()
    # This process's worker (wired by the app): committing() hands it its messages.
    worker: OutboxWorker | None = None

    @contextlib.asynccontextmanager
    async def committing(self) -> AsyncIterator[Any]:
        """A transaction whose messages this process's worker claims and sends as soon as
        it commits (see the module docstring)."""
        async with self.handing_over(), in_transaction() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def handing_over(self) -> AsyncIterator[None]:
        """The messages queued within, by any transaction in it, are handed to this
        process's worker when the block ends (the outermost such block, if nested). Safe
        whatever happened inside: a message whose row did not commit is never claimed."""
        if _BATCH.get() is not None:
            yield
            return
        batch: list[OutboxMessage] = []
        token = _BATCH.set(batch)
        try:
            yield
        finally:
            _BATCH.reset(token)
            if self.worker is not None and batch:
                self.worker.hand_over(batch)

    async def enqueue(
        self,
        action: Action,
        phone: str,
        *,
        code: str = "",
        send_before: datetime | None = None,
        minutes: int = 0,
        replaces: bool = True,
        channel: str = SMS,
        locale: str = "en",
        code_id: int | None = None,
        **extra: str,
    ) -> OutboxMessage:
        """Queue one message; call inside the transaction of the change that causes it.

        A code message ends the queued ones of its kind to the phone, unless the caller
        knows there were none (``replaces=False``: the first code of its kind; should one
        be queued all the same, the send-time check still abandons it)."""
        message = self.message(
            action,
            phone,
            code=code,
            send_before=send_before,
            minutes=minutes,
            channel=channel,
            locale=locale,
            code_id=code_id,
            **extra,
        )
        return await self.queue(message, replaces=replaces)

    async def queue(self, message: OutboxMessage, *, replaces: bool = True) -> OutboxMessage:
        """``enqueue`` of a message already built by ``message``."""
        # a resend that switches channel ends the older code's message all the same
        if self.supersedes(message, replaces):  # the older code is dead: its SMS must not go
            older = OutboxMessage.filter(action=message.action, phone=message.phone)
            await older.filter(state=QUEUED).update(
                state=ABANDONED, body=None, last_error=SUPERSEDED
            )
            # One claimed for a retry meanwhile: its next try finds it out of time.
            await older.filter(state=SENDING).update(send_before=now())
        self.hand_over_later(message)
        await message.save(force_create=True)
        return message

    def hand_over_later(self, message: OutboxMessage) -> None:
        """Within ``handing_over``: the message, not yet written, gets its hand-over token
        and goes to the worker when the block ends (a statement chain that writes the row
        itself calls this too: resolvers/signup.py)."""
        batch = _BATCH.get()
        if batch is not None and message.state == QUEUED:
            message.claim_token = secrets.token_hex(8)
            batch.append(message)

    def message(
        self,
        action: Action,
        phone: str,
        *,
        code: str = "",
        send_before: datetime | None = None,
        minutes: int = 0,
        channel: str = SMS,
        locale: str = "en",
        code_id: int | None = None,
        **extra: str,
    ) -> OutboxMessage:
        """The row ``enqueue`` writes, not yet saved (a statement chain writes it too:
        resolvers/signup.py): the rendered body, or none for a suppressed phone."""
        suppressed = phone in self.suppressed_phones
        if suppressed:
            body = None
        elif channel == VOICE:  # the body of a call is its TwiML
            body = self.templates.voice(action, code=code, minutes=minutes, locale=locale, **extra)
        else:
            body = self.templates.render(action, code=code, minutes=minutes, locale=locale, **extra)
        return OutboxMessage(
            action=action.value,
            phone=phone,
            body=body,
            state=SUPPRESSED if suppressed else QUEUED,
            channel=channel,
            code_id=code_id,
            next_attempt_at=now(),
            send_before=send_before,
        )

    @staticmethod
    def supersedes(message: OutboxMessage, replaces: bool = True) -> bool:
        """Does queueing ``message`` end the queued older ones of its kind to its phone?"""
        return message.state == QUEUED and message.action in REPLACEABLE_VALUES and replaces


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 20
    base_seconds: float = 1.0
    max_seconds: float = 60.0
    lease_seconds: float = 15.0

    def delay(self, attempts: int) -> float:
        """Exponential, capped, with "equal jitter": between half and all of the step."""
        step: float = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not a secret


@dataclass
class Claim:
    message: OutboxMessage
    uncertain: bool  # an earlier try may have reached the provider


class OutboxWorker:
    def __init__(
        self,
        sender: Sender,
        *,
        retry: RetryPolicy,
        status_callback: str | None = None,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        budget: NoticeBudget | None = None,
    ) -> None:
        self.sender = sender
        self.budget = budget
        self.retry = retry
        self.status_callback = status_callback
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._inflight: dict[int, tuple[Claim, asyncio.Task[None]]] = {}
        self._next_due: float | None = None
        # Due messages may be left unclaimed: the last look filled every free slot. Only
        # then is a slot set free worth a look at once (bench/README.md, issue 17: looks
        # that found nothing were a fifth of a signup's CPU with two workers).
        self._more = False
        self._stopping = False
        self._handing: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    def hand_over(self, messages: list[OutboxMessage]) -> None:
        """Messages of a transaction that has just committed (``Outbox.committing``):
        claimed by id and sent now, without a poll. A stopping worker leaves them queued."""
        if self._task is None or self._stopping:
            self.wake()
            return
        # A context of its own: the sends are not part of the request that queued them.
        task = asyncio.create_task(self._claim_handed(messages), context=contextvars.Context())
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)

    async def _claim_handed(self, messages: list[OutboxMessage]) -> None:
        at = now()
        try:
            for message in messages:
                if message.id is None:  # never written (a statement chain that wrote nothing)
                    continue
                if len(self._inflight) >= self.concurrency:  # the poll takes the rest
                    self._more = True
                    self.wake()
                    return
                claim = await self._take(message, at)
                if claim is not None:
                    self._spawn(claim)
        except DependencyUnavailable as e:  # left queued: a later pass claims them
            log.warning("could not claim the messages handed over: %s; trying again", e)
            self._due_in(self.poll_seconds)
        except Exception:
            log.exception("could not claim the messages handed over; trying again")
            self._due_in(self.poll_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-worker")
        self._renewer = asyncio.create_task(self._renew_leases(), name="outbox-leases")

    async def stop(self, drain_seconds: float = 0.0) -> None:
        """Stop claiming; let sends in flight finish, and put back what they could not."""
        self._stopping = True
        self._wake.set()
        if self._handing:  # claims of messages handed over just before the stop
            await asyncio.wait(list(self._handing), timeout=5)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
            except TimeoutError:
                await _cancel(self._task)
        inflight = list(self._inflight.values())
        if inflight:
            tasks = [task for _, task in inflight]
            _, pending = await asyncio.wait(tasks, timeout=drain_seconds or None)
            for task in pending:
                await _cancel(task)
            for claim in [claim for claim, task in inflight if task in pending]:
                await self._put_back(claim.message)
        if self._renewer is not None:
            await _cancel(self._renewer)

    async def _renew_leases(self) -> None:
        """Keep the claims of this (live) worker: only a dead worker's claims expire."""
        every = self.retry.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            claims = [claim for claim, _ in self._inflight.values()]
            if not claims:
                continue
            try:
                await OutboxMessage.filter(
                    id__in=[c.message.id for c in claims],
                    claim_token__in=[c.message.claim_token for c in claims],
                    state=SENDING,
                ).update(lease_until=now() + timedelta(seconds=self.retry.lease_seconds))
            except DependencyUnavailable as e:
                log.warning("could not renew the outbox leases: %s; trying again", e)
            except Exception:
                log.exception("could not renew the outbox leases; trying again")

    # --- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._fill()
            except DependencyUnavailable as e:  # an outage: one line, no traceback per pass
                log.warning("outbox worker pass failed: %s; trying again", e)
                self._more = False
            except Exception:
                log.exception("outbox worker pass failed; trying again")
                self._more = False
            if not self._more or len(self._inflight) >= self.concurrency:
                # A wake (a message queued here, a slot set free while more was due, a
                # retry's time) or the poll brings the next look; the wake set during a
                # look is not lost: _idle returns at once.
                await self._idle()

    async def _fill(self) -> None:
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            self._more = True
            return
        claims = await self.claim(free)
        for claim in claims:
            self._spawn(claim)

    def _spawn(self, claim: Claim) -> None:
        message_id = claim.message.id
        task = asyncio.create_task(self.deliver(claim), name=f"outbox-{message_id}")
        self._inflight[message_id] = (claim, task)

        def done(_: asyncio.Task[None]) -> None:
            self._inflight.pop(message_id, None)
            if self._more:
                self._wake.set()  # a free slot, and due messages may be waiting for it

        task.add_done_callback(done)

    async def _idle(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.poll_seconds
        if self._next_due is not None:
            timeout = max(0.0, min(timeout, self._next_due - loop.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        if self._next_due is not None and self._next_due <= loop.time():
            self._next_due = None

    def _due_in(self, seconds: float) -> None:
        due = asyncio.get_running_loop().time() + seconds
        self._next_due = due if self._next_due is None else min(self._next_due, due)

    # --- claiming ------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Claim]:
        at = now()
        due = (
            await OutboxMessage.filter(
                Q(state=QUEUED, next_attempt_at__lte=at) | Q(state=SENDING, lease_until__lt=at)
            )
            .order_by("next_attempt_at", "id")
            .limit(limit)
        )
        self._more = len(due) >= limit  # fewer: every message due was seen
        random.shuffle(due)  # workers read the same rows: spread their guarded updates
        claims = []
        for message in due:
            claim = await self._take(message, at)
            if claim is not None:
                claims.append(claim)
        return claims

    async def _take(self, message: OutboxMessage, at: datetime) -> Claim | None:
        token = secrets.token_hex(8)
        reclaimed = message.state == SENDING
        take = OutboxMessage.filter(
            id=message.id, state=message.state, claim_token=message.claim_token
        ).update(
            state=SENDING,
            claim_token=token,
            lease_until=at + timedelta(seconds=self.retry.lease_seconds),
            attempts=F("attempts") + 1,
        )
        if reclaimed:  # the dead worker's try goes on record with the takeover
            async with in_transaction():
                won = await take
                if won == 1:
                    await _record(message.id, "lost", None, "its worker stopped mid-send")
        else:  # one guarded UPDATE: no transaction round trips around it
            won = await take
        if won != 1:
            return None
        uncertain = reclaimed or await _last_try_uncertain(message)
        message.state, message.claim_token = SENDING, token
        message.attempts += 1
        return Claim(message, uncertain)

    # --- one message ---------------------------------------------------------------------

    async def deliver(self, claim: Claim) -> None:
        try:
            await self._attempt(claim)
        except Exception:  # the database failed us: the lease brings the message back
            log.exception("SMS %s: could not record its try", claim.message.id)

    async def _attempt(self, claim: Claim) -> None:
        message = claim.message
        if message.send_before is not None and now() >= message.send_before:
            await self._finish(message, ABANDONED, "expired", detail="code expired unsent")
            return
        if await _superseded(message):
            await self._finish(message, ABANDONED, "superseded", detail=SUPERSEDED)
            return
        if self._first_notice_try(claim):
            wait = await _wait_for_older_notice(message) or await self._budget_wait(message)
            if wait > 0:
                await self._hold(message, wait)
                return
            if message.last_error == HELD:  # only a notice that had to wait takes others in
                await _absorb_notices(message)
        uncertain = claim.uncertain
        try:
            if uncertain:
                sid = await self._reconcile(message)
                if sid is not None:
                    await self._finish(message, SENT, "found", sid=sid)
                    return
                uncertain = False
            by = {} if (message.channel or SMS) == SMS else {"channel": message.channel}
            sid = await self.sender.send(
                message.phone,
                message.body or "",
                action=message.action,
                status_callback=self.status_callback,
                **by,
            )
        except SendError as e:
            await self._failed(message, e, uncertain=uncertain or e.uncertain)
            return
        except Exception as e:  # a sender bug must not lose the message
            log.exception("SMS %s: the sender failed unexpectedly", message.id)
            error = SendError(f"unexpected {type(e).__name__}", transient=True, uncertain=True)
            await self._failed(message, error, uncertain=True)
            return
        await self._finish(message, SENT, "sent", sid=sid)

    def _first_notice_try(self, claim: Claim) -> bool:
        """A notice about to be tried for the first time (later tries were counted)."""
        message = claim.message
        return (
            self.budget is not None
            and Action(message.action) not in COUNTED_AT_REQUEST
            and message.attempts == 1
            and not claim.uncertain
        )

    async def _budget_wait(self, message: OutboxMessage) -> int:
        assert self.budget is not None
        try:
            return await self.budget(message.phone)
        except Exception:  # the limits' storage is down: hold the notice, never over budget
            log.exception("SMS %s: could not count it in the SMS budget", message.id)
            return BUDGET_UNKNOWN_WAIT_SECONDS

    async def _hold(self, message: OutboxMessage, wait: int) -> None:
        """Over the SMS budget: queued again until it has room; the try is not counted."""
        await _settle(
            message,
            "held",
            None,
            f"over the SMS budget for {wait} s",
            state=QUEUED,
            next_attempt_at=now() + timedelta(seconds=wait),
            lease_until=None,
            attempts=F("attempts") - 1,
            last_error=HELD,
        )
        metrics.SMS.labels(action=message.action, outcome="held").inc()
        self._due_in(wait)
        log.info("SMS %s [%s] held %d s: over the SMS budget", message.id, message.action, wait)

    async def _reconcile(self, message: OutboxMessage) -> str | None:
        """The provider id of an earlier try it accepted, if the sender can tell."""
        if not isinstance(self.sender, Reconciler) or not message.body:
            return None
        try:
            by = {} if (message.channel or SMS) == SMS else {"channel": message.channel}
            sids = await self.sender.find_sent(
                message.phone, message.body, since=message.created_at - RECONCILE_MARGIN, **by
            )
        except SendError as e:
            if e.transient:
                raise
            log.warning("SMS %s: cannot ask the provider about earlier tries (%s)", message.id, e)
            return None
        taken = {m.provider_sid for m in await OutboxMessage.filter(provider_sid__in=sids)}
        return next((sid for sid in sids if sid not in taken), None)

    async def _failed(self, message: OutboxMessage, error: SendError, *, uncertain: bool) -> None:
        outcome = "unknown" if uncertain else "error" if error.transient else "refused"
        if not error.transient or message.attempts >= self.retry.max_attempts:
            await self._finish(message, ABANDONED, outcome, error=error)
            return
        delay = self.retry.delay(message.attempts)
        retry_at = now() + timedelta(seconds=delay)
        if message.send_before is not None and retry_at >= message.send_before:
            detail = f"{error}; the code expires before the next try"
            await self._finish(message, ABANDONED, outcome, error=error, detail=detail)
            return
        # The try is on record before the row can be claimed again: the next claimant
        # must know whether this one may have reached the provider.
        await _settle(
            message,
            outcome,
            error.code,
            str(error),
            state=QUEUED,
            next_attempt_at=retry_at,
            lease_until=None,
            last_error_code=error.code,
            last_error=str(error)[:255],
        )
        metrics.SMS.labels(action=message.action, outcome=outcome).inc()
        self._due_in(delay)
        log.warning(
            "SMS %s [%s] try %d: %s (%s); next try in %.1f s",
            message.id,
            message.action,
            message.attempts,
            outcome,
            error,
            delay,
        )

    async def _finish(
        self,
        message: OutboxMessage,
        state: str,
        outcome: str,
        *,
        sid: str | None = None,
        error: SendError | None = None,
        detail: str | None = None,
    ) -> None:
        detail = (detail or (str(error) if error else ""))[:255] or None
        code = error.code if error else None
        fields: dict[str, object] = {"state": state, "lease_until": None}
        if not _keeps_body(message, state, error):
            fields["body"] = None
        if state == SENT:
            fields.update(provider_sid=sid, sent_at=now(), last_error=None, last_error_code=None)
        else:
            fields.update(last_error=detail, last_error_code=code)
        recorded = await _settle(message, outcome, code, detail, **fields)
        metrics.SMS.labels(action=message.action, outcome=outcome).inc()
        if not recorded:
            log.warning("SMS %s: its claim was taken over before it was %s", message.id, state)
        elif state == SENT:
            provider = f": {sid}" if sid else ""
            log.info("SMS %s [%s] %s%s", message.id, message.action, outcome, provider)
        else:
            log.error("SMS %s [%s] abandoned: %s", message.id, message.action, detail)

    async def _put_back(self, message: OutboxMessage) -> None:
        """A send cut short by a shutdown: queued again, its outcome unknown."""
        async with in_transaction():
            if await _mine(message).update(state=QUEUED, lease_until=None, next_attempt_at=now()):
                await _record(message.id, "interrupted", None, "stopped mid-send")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _mine(message: OutboxMessage) -> QuerySet[OutboxMessage]:
    """The message's row while this worker's claim holds."""
    return OutboxMessage.filter(id=message.id, state=SENDING, claim_token=message.claim_token)


def _keeps_body(message: OutboxMessage, state: str, error: SendError | None) -> bool:
    """Only an abandoned notice an operator could still send keeps its (code-free) body."""
    return (
        state == ABANDONED
        and error is not None
        and (error.transient or error.fixable)
        and Action(message.action) not in CODE_ACTIONS
    )


async def _wait_for_older_notice(message: OutboxMessage) -> int:
    """Seconds until an older notice to the phone, still waiting or being sent, has had its
    turn (it absorbs this one then), or 0: notices reach a phone in the order they were
    written, so the last SMS tells the current state."""
    older = (
        await OutboxMessage.filter(
            phone=message.phone, state__in=[QUEUED, SENDING], action__in=NOTICES, id__lt=message.id
        )
        .order_by("next_attempt_at")
        .first()
    )
    if older is None:
        return 0
    due_in = (older.next_attempt_at - now()).total_seconds() if older.state == QUEUED else 0
    return max(1, math.ceil(due_in))


async def _absorb_notices(message: OutboxMessage) -> None:
    """The notices queued for the phone after this one go out in its SMS (see above): the
    run of them up to the first that is not queued (being sent or held by another worker),
    so that nothing newer overtakes it."""
    later = await OutboxMessage.filter(
        phone=message.phone, state__in=[QUEUED, SENDING], action__in=MERGEABLE, id__gt=message.id
    ).order_by("id")
    texts = [message.body or ""]
    async with in_transaction():
        for other in later:
            taken = await OutboxMessage.filter(
                id=other.id, state=QUEUED, claim_token=other.claim_token
            ).update(state=MERGED, body=None, lease_until=None)
            if taken != 1:
                break
            await _record(other.id, "merged", None, f"sent within SMS {message.id}")
            texts.append(other.body or "")
        if len(texts) == 1:
            return
        body = "\n".join(_last_of_each(texts))
        await _mine(message).update(body=body)
    message.body = body


def _last_of_each(texts: list[str]) -> list[str]:
    """The distinct texts, each at its last place."""
    last = {text: i for i, text in enumerate(texts) if text}
    return sorted(last, key=last.__getitem__)


async def _superseded(message: OutboxMessage) -> bool:
    """A code message with a newer one of its kind to the same phone: its code is dead."""
    if Action(message.action) not in SUPERSEDED_AT_SEND:
        return False
    newer = OutboxMessage.filter(action=message.action, phone=message.phone, id__gt=message.id)
    return await newer.exists()


async def _last_try_uncertain(message: OutboxMessage) -> bool:
    if message.attempts == 0:
        return False
    last = await MessageAttempt.filter(message_id=message.id).order_by("-id").first()
    return last is not None and last.outcome in UNCERTAIN


async def _record(message_id: int, outcome: str, code: int | None, detail: str | None) -> None:
    await _attempt_row(message_id, outcome, code, detail).save(force_create=True)


def _attempt_row(
    message_id: int, outcome: str, code: int | None, detail: str | None
) -> MessageAttempt:
    return MessageAttempt(
        message_id=message_id, outcome=outcome, error_code=code, detail=(detail or "")[:255] or None
    )


async def _settle(
    message: OutboxMessage, outcome: str, code: int | None, detail: str | None, **fields: Any
) -> int:
    """A try on record and the message's row moved while this worker's claim holds,
    together; the number of rows moved (0: the claim was taken over; the try is on record
    all the same). On PostgreSQL one statement (a data-modifying WITH, its parts the ORM's
    own row and UPDATE: models/rows.py) instead of BEGIN, INSERT, UPDATE, COMMIT: four
    round trips after every send. Elsewhere a transaction (why: rows.chain_connection)."""
    connection = rows.chain_connection(OutboxMessage)
    if connection is not None:
        chain = rows.Chain()
        chain.insert("tried", _attempt_row(message.id, outcome, code, detail))
        chain.query("moved", _mine(message).update(**fields), tail='RETURNING "id"')
        _, moved = await connection.execute_query(
            chain.sql('SELECT count(*) AS "n" FROM "moved"'), chain.params
        )
        return int(moved[0]["n"])
    async with in_transaction():
        await _record(message.id, outcome, code, detail)
        return await _mine(message).update(**fields)


async def record_status(
    sid: str, status: str, error_code: int | None, *, wait_seconds: float = 0.0
) -> bool:
    """Apply a delivery-status callback; False when no message has this provider id.

    Only a sent message moves, once, to its final state: repeated, late or out-of-order
    callbacks (a "sent" after "delivered") change nothing. A callback can overtake the
    worker's record of the id it was given, so an unknown id is looked for again for up to
    ``wait_seconds``.
    """
    message = await _by_sid(sid, wait_seconds)
    if message is None:
        return False
    state = CALLBACK_STATES.get(status)
    if state is None:
        return True
    async with in_transaction():
        moved = await OutboxMessage.filter(id=message.id, state=SENT).update(
            state=state, last_error_code=error_code, body=None
        )
        if moved:
            await _record(message.id, state, error_code, None)
    if moved:
        metrics.SMS.labels(action=message.action, outcome=state).inc()
    return True


async def _by_sid(sid: str, wait_seconds: float) -> OutboxMessage | None:
    if not sid:
        return None
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        message = await OutboxMessage.get_or_none(provider_sid=sid)
        if message is not None or asyncio.get_running_loop().time() >= deadline:
            return message
        await asyncio.sleep(0.1)
