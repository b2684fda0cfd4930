"""The operator's view of the outbox: ``uv run main.py outbox [--retry]``."""

from __future__ import annotations

from tortoise import Tortoise

from models import OutboxMessage, tortoise_config
from notifier.outbox import ABANDONED, QUEUED
from resolvers.clock import now
from resolvers.phones import mask_phone
from resolvers.settings import Settings


async def run_outbox_command(settings: Settings, *, retry: bool, limit: int) -> int:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        if retry:
            count = (
                await OutboxMessage.filter(state=ABANDONED)
                .exclude(body=None)
                .update(state=QUEUED, next_attempt_at=now(), attempts=0)
            )
            print(f"re-queued {count} abandoned message(s) that still have a body")
            return 0
        rows = await OutboxMessage.all().order_by("-id").limit(limit)
        print(f"{'id':>6} {'created':19} {'state':11} {'action':18} {'phone':16} tries error")
        for m in rows:
            error = f"{m.last_error_code or ''} {m.last_error or ''}".strip()
            print(
                f"{m.id:>6} {m.created_at:%Y-%m-%d %H:%M:%S} {m.state:11} {m.action:18} "
                f"{mask_phone(m.phone):16} {m.attempts:>5} {error}"
            )
        return 0
    finally:
        await Tortoise.close_connections()
