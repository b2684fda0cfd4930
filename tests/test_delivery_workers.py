"""Two worker processes on one PostgreSQL database: 200 messages, each sent exactly once.

Each process runs an ``OutboxWorker`` with the real Twilio sender against the local Twilio
double (this module is also the worker's program: ``python -m tests.test_delivery_workers
DATABASE_URL TWILIO_BASE_URL``). Both poll before the messages are committed in one
transaction, so they claim from the same rows at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from tortoise.transactions import in_transaction

from core.clock import now
from models import OutboxMessage
from tests.support import new_phone
from tests.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    NO_PROXY,
    ROOT,
    TwilioDouble,
    orm,
)

MESSAGES = 200


@pytest.fixture
def twilio() -> Iterator[TwilioDouble]:
    with TwilioDouble() as double:
        yield double


def start_worker(database_url: str, base_url: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.test_delivery_workers", database_url, base_url],
        cwd=ROOT,
        env={**os.environ, **NO_PROXY},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready", worker.stderr
    return worker


def stop_worker(worker: subprocess.Popen[str]) -> list[str]:
    """SIGTERM; the phones of the messages it sent."""
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    sent: list[str] = json.loads(out.strip().splitlines()[-1])
    return sent


@pytest.mark.postgres_only  # worker processes claiming at the same moment
async def test_two_worker_processes_send_200_messages_each_exactly_once(
    database_url, db_kind, twilio
):
    # given: two worker processes polling; each send takes Twilio a moment
    twilio.delay(0.02)
    workers = [
        await asyncio.to_thread(start_worker, database_url, twilio.base_url) for _ in range(2)
    ]
    token = secrets.token_hex(4)
    try:
        async with orm(database_url):
            # when: 200 messages appear at once
            phones = [new_phone() for _ in range(MESSAGES)]  # one message each
            async with in_transaction():
                ids = [
                    (
                        await OutboxMessage.create(
                            action="account_deleted",
                            phone=phones[i],
                            body=f"Your account was deleted ({token} #{i}).",
                            next_attempt_at=now(),
                        )
                    ).id
                    for i in range(MESSAGES)
                ]
            deadline = time.monotonic() + 60
            while await OutboxMessage.filter(id__in=ids, state="sent").count() < MESSAGES:
                assert time.monotonic() < deadline, "not every message was sent"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # room for a duplicate to show up
    finally:
        reports = [await asyncio.to_thread(stop_worker, w) for w in workers]
    # then
    bodies = [m.body for m in twilio.messages if token in m.body]
    by_worker = [set(sent) & set(phones) for sent in reports]
    figures = {
        "queued": MESSAGES,
        "sent": len(set(bodies)),
        "duplicated": len(bodies) - len(set(bodies)),
        "lost": MESSAGES - len(set(bodies)),
        "sent by each worker": [len(s) for s in by_worker],
    }
    print(f"\ntwo workers on PostgreSQL: {figures}")
    assert len(bodies) == MESSAGES and len(set(bodies)) == MESSAGES
    assert by_worker[0].isdisjoint(by_worker[1])
    assert by_worker[0] | by_worker[1] == set(phones)
    assert all(by_worker), "one worker took every message: no contention was tested"


# --- the worker process ----------------------------------------------------------------------


async def work(database_url: str, base_url: str) -> list[str]:
    from tortoise import Tortoise

    from models import tortoise_config
    from notifier.outbox import OutboxWorker, RetryPolicy
    from notifier.twilio import TwilioSender

    sent: list[str] = []

    class RecordingSender(TwilioSender):
        async def send(
            self, to: str, body: str, *, action: str, status_callback: str | None
        ) -> str | None:
            sid = await super().send(to, body, action=action, status_callback=status_callback)
            sent.append(to)  # accepted by Twilio (an error would have raised)
            return sid

    await Tortoise.init(config=tortoise_config(database_url))
    sender = RecordingSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        base_url=base_url,
        timeout_seconds=5,
    )
    worker = OutboxWorker(
        sender,
        retry=RetryPolicy(base_seconds=0.05, max_seconds=0.2, lease_seconds=30),
        concurrency=8,
        poll_seconds=0.05,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker.start()
    print("ready", flush=True)
    await stop.wait()
    await worker.stop(drain_seconds=5)
    await sender.close()
    await Tortoise.close_connections()
    return sent


if __name__ == "__main__":
    print(json.dumps(asyncio.run(work(sys.argv[1], sys.argv[2]))), flush=True)
