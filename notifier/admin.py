"""The operator's view of the outbox: ``uv run main.py outbox [--retry] [--limit N]``.

The listing shows the newest messages: state, action type, masked phone, tries and the
last error, never a body. ``--retry`` queues again every abandoned message that still has
its body (a notice given up after transient failures or an error an operator can fix, such
as credentials); an abandoned code message has none, its owner asks for a new code.
"""

from __future__ import annotations

from tortoise import Tortoise

from core.clock import now
from core.masking import mask_phone
from core.settings import Settings
from models import MessageAttempt, OutboxMessage, tortoise_config
from notifier.outbox import ABANDONED, QUEUED

HEADER = f"{'id':>6} {'created (UTC)':19} {'state':11} {'action':18} {'phone':16} tries  error"


async def run_outbox_command(settings: Settings, *, retry: bool, limit: int) -> int:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        if retry:
            count = await requeue_abandoned()
            print(f"re-queued {count} abandoned message(s)")
        else:
            for line in await listing(limit):
                print(line)
        return 0
    finally:
        await Tortoise.close_connections()


async def requeue_abandoned() -> int:
    ids = await (
        OutboxMessage.filter(state=ABANDONED).exclude(body=None).values_list("id", flat=True)
    )
    count = 0
    for message_id in ids:
        moved = await OutboxMessage.filter(id=message_id, state=ABANDONED).update(
            state=QUEUED, attempts=0, next_attempt_at=now(), lease_until=None
        )
        if moved:
            await MessageAttempt.create(message_id=message_id, outcome="requeued")
            count += 1
    return count


async def listing(limit: int) -> list[str]:
    rows = await OutboxMessage.all().order_by("-id").limit(limit)
    lines = [HEADER]
    for m in rows:
        error = f"{m.last_error_code or ''} {m.last_error or ''}".strip() or "-"
        lines.append(
            f"{m.id:>6} {m.created_at:%Y-%m-%d %H:%M:%S} {m.state:11} {m.action:18} "
            f"{mask_phone(m.phone):16} {m.attempts:>5}  {error}"
        )
    return lines
