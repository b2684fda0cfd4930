"""The operator's command: ``main.py outbox`` lists recent messages with masked phones;
``main.py outbox --retry`` queues the abandoned ones that can still be sent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

from core.clock import now
from core.masking import mask_phone
from models import OutboxMessage
from tests.support import new_phone
from tests.twilio_double import NO_PROXY, ROOT

NOTICE = "Your phonegate account was deleted. Goodbye."


def outbox_command(database_url: str, *args: str) -> str:
    env = {
        **os.environ,
        **NO_PROXY,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "JWT_SECRET": "admin-test-secret-" + "z" * 30,
    }
    run = subprocess.run(
        [sys.executable, "main.py", "outbox", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


async def abandoned_notice(phone: str, **fields: object) -> OutboxMessage:
    values: dict[str, object] = {
        "action": "account_deleted",
        "phone": phone,
        "body": NOTICE,
        "state": "abandoned",
        "attempts": 20,
        "next_attempt_at": now() - timedelta(minutes=5),
        "last_error_code": 20503,
        "last_error": "Twilio refused (HTTP 503)",
        **fields,
    }
    return await OutboxMessage.create(**values)


async def test_outbox_lists_state_action_masked_phone_tries_and_last_error(
    settings, start_app, database_url
):
    # given
    phone = new_phone()
    async with start_app(settings):
        row = await abandoned_notice(phone)
        # when
        listing = await asyncio.to_thread(outbox_command, database_url, "--limit", "200")
    # then
    (line,) = [line for line in listing.splitlines() if line.split()[0] == str(row.id)]
    assert line.split()[3:8] == [
        "abandoned",
        "account_deleted",
        mask_phone(phone),
        "20",
        "20503",
    ]
    assert "Twilio refused (HTTP 503)" in line
    assert phone not in listing and NOTICE not in listing


async def test_outbox_retry_sends_abandoned_notices_again_but_not_codes(
    settings, start_app, database_url
):
    # given: a notice given up after an outage, and a code message given up (no body kept)
    notice_phone, code_phone = new_phone(), new_phone()
    async with start_app(settings) as api:
        notice = await abandoned_notice(notice_phone)
        code = await abandoned_notice(code_phone, action="verify_signup", body=None)
        # when
        said = await asyncio.to_thread(outbox_command, database_url, "--retry")
        api.app.state.deps.wake_outbox()
        sent = await api.sms.wait(notice_phone, "account_deleted")
        await asyncio.sleep(0.2)
        after_code = await OutboxMessage.get(id=code.id)
        attempts = [a.outcome for a in await notice.attempt_log.all().order_by("id")]
    # then
    assert "re-queued" in said
    assert sent.body == NOTICE
    assert after_code.state == "abandoned" and api.sms.to(code_phone) == []
    assert attempts[0] == "requeued"
