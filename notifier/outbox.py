"""The outbox: messages written with the change that causes them, sent after commit.

``enqueue`` runs inside the caller's transaction. The ``OutboxWorker`` claims due messages
with a guarded update (exactly one worker wins each claim, on SQLite and PostgreSQL alike),
sends them outside any transaction, and records every attempt. A message left in "sending"
by a dead worker is claimed again once its lease expires. Transient provider failures are
retried with capped exponential backoff and jitter; permanent ones are not. A code message
whose code has expired is not sent late. Bodies are cleared once a message is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import F, Q

from models import MessageAttempt, OutboxMessage
from notifier.actions import Action
from notifier.senders import Sender, SendError
from notifier.templates import Templates
from resolvers import metrics
from resolvers.clock import now

log = logging.getLogger("phonegate.outbox")

QUEUED, SENDING, SENT, ABANDONED, SUPPRESSED = (
    "queued",
    "sending",
    "sent",
    "abandoned",
    "suppressed",
)
DELIVERED, UNDELIVERED, FAILED = "delivered", "undelivered", "failed"
FINAL = frozenset({ABANDONED, SUPPRESSED, DELIVERED, UNDELIVERED, FAILED})
# Callback statuses, in the order they can only move forward.
STATUS_RANK = {QUEUED: 0, SENDING: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 3, FAILED: 3}


@dataclass
class Outbox:
    """What a flow needs to queue a message."""

    templates: Templates
    suppressed_phones: frozenset[str] = frozenset()

    async def enqueue(
        self,
        action: Action,
        phone: str,
        *,
        code: str = "",
        send_before: datetime | None = None,
        minutes: int = 0,
        **extra: str,
    ) -> OutboxMessage:
        """Queue one message; call inside the transaction of the change that causes it."""
        suppressed = phone in self.suppressed_phones
        body = (
            None
            if suppressed
            else self.templates.render(action, code=code, minutes=minutes, **extra)
        )
        return await OutboxMessage.create(
            action=action.value,
            phone=phone,
            body=body,
            state=SUPPRESSED if suppressed else QUEUED,
            next_attempt_at=now(),
            send_before=send_before,
        )


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    base_seconds: float = 1.0
    max_seconds: float = 60.0
    lease_seconds: float = 60.0

    def delay(self, attempts: int) -> float:
        """Exponential, capped, with "equal jitter": between half and all of the step."""
        step: float = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not a secret


class OutboxWorker:
    def __init__(
        self,
        sender: Sender,
        *,
        retry: RetryPolicy,
        status_callback: str | None = None,
        batch: int = 20,
        idle_seconds: float = 1.0,
        on_sent: Callable[[OutboxMessage], None] | None = None,
    ) -> None:
        self.sender = sender
        self.retry = retry
        self.status_callback = status_callback
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.on_sent = on_sent
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._claimed: set[int] = set()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        """Stop claiming, and put back what was claimed but not sent."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._claimed:
            await OutboxMessage.filter(id__in=list(self._claimed), state=SENDING).update(
                state=QUEUED, lease_until=None, claim_token=None, attempts=F("attempts") - 1
            )

    async def _run(self) -> None:
        while not self._stopping:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox worker pass failed; retrying")
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
                self._wake.clear()

    async def run_once(self) -> int:
        """Claim and send what is due; the number of messages handled."""
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self.deliver(m) for m in claimed))
        return len(claimed)

    async def claim(self) -> list[OutboxMessage]:
        at = now()
        due = (
            await OutboxMessage.filter(
                Q(state=QUEUED, next_attempt_at__lte=at) | Q(state=SENDING, lease_until__lt=at)
            )
            .order_by("next_attempt_at")
            .limit(self.batch)
        )
        claimed = []
        for message in due:
            token = secrets.token_hex(8)
            lease = at + timedelta(seconds=self.retry.lease_seconds)
            won = await OutboxMessage.filter(
                id=message.id, state=message.state, claim_token=message.claim_token
            ).update(
                state=SENDING, claim_token=token, lease_until=lease, attempts=F("attempts") + 1
            )
            if won == 1:
                message.state, message.claim_token = SENDING, token
                message.attempts += 1
                claimed.append(message)
                self._claimed.add(message.id)
        return claimed

    async def deliver(self, message: OutboxMessage) -> None:
        try:
            if message.send_before is not None and now() >= message.send_before:
                await self._finish(message, ABANDONED, "expired", detail="code expired unsent")
                return
            try:
                sid = await self.sender.send(
                    message.phone,
                    message.body or "",
                    action=message.action,
                    status_callback=self.status_callback,
                )
            except SendError as e:
                await self._failed(message, e)
                return
            await self._finish(message, SENT, "sent", sid=sid)
        finally:
            self._claimed.discard(message.id)

    async def _failed(self, message: OutboxMessage, error: SendError) -> None:
        metrics.SMS.labels(action=message.action, outcome="error").inc()
        if error.transient and message.attempts < self.retry.max_attempts:
            retry_at = now() + timedelta(seconds=self.retry.delay(message.attempts))
            await OutboxMessage.filter(id=message.id, claim_token=message.claim_token).update(
                state=QUEUED,
                next_attempt_at=retry_at,
                lease_until=None,
                last_error_code=error.code,
                last_error=str(error)[:255],
            )
            await MessageAttempt.create(
                message_id=message.id,
                outcome="retry",
                error_code=error.code,
                detail=str(error)[:255],
            )
            log.warning(
                "SMS %s [%s] failed (%s); retry %d",
                message.id,
                message.action,
                error,
                message.attempts,
            )
            return
        await self._finish(message, ABANDONED, "abandoned", error=error)

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
        detail = detail or (str(error)[:255] if error else None)
        # A notice abandoned after transient failures keeps its body (no secret in it) so
        # `main.py outbox --retry` can send it; codes and permanent refusals keep nothing.
        keep_body = (
            state == ABANDONED
            and error is not None
            and error.transient
            and message.send_before is None
        )
        fields: dict[str, object] = {"state": state, "lease_until": None, "last_error": detail}
        if not keep_body:
            fields["body"] = None
        if state == SENT:
            fields.update(provider_sid=sid, sent_at=now())
        if error is not None:
            fields["last_error_code"] = error.code
        await OutboxMessage.filter(id=message.id, claim_token=message.claim_token).update(**fields)
        await MessageAttempt.create(
            message_id=message.id,
            outcome=outcome,
            error_code=error.code if error else None,
            detail=detail,
        )
        metrics.SMS.labels(action=message.action, outcome=outcome).inc()
        if state == SENT and self.on_sent:
            self.on_sent(message)
        if state == ABANDONED:
            log.error("SMS %s [%s] abandoned: %s", message.id, message.action, detail)


async def record_status(sid: str, status: str, error_code: int | None) -> bool:
    """Apply a delivery-status callback; late or repeated ones never move a message back."""
    message = await OutboxMessage.get_or_none(provider_sid=sid)
    if message is None or status not in STATUS_RANK:
        return False
    if STATUS_RANK[status] <= STATUS_RANK.get(message.state, 0):
        return True
    allowed_from = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    updated = await OutboxMessage.filter(id=message.id, state__in=allowed_from).update(
        state=status, last_error_code=error_code, body=None
    )
    if updated:
        await MessageAttempt.create(message_id=message.id, outcome=status, error_code=error_code)
    return True
