"""TEST_PHONE_CODES numbers get a fixed code and no SMS (suppressed in the outbox), never in
production; Twilio's magic test numbers behave as they do with Twilio test credentials."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from core import settings as config
from core.settings import SettingsError
from models import OutboxMessage
from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone
from tests.twilio_double import NO_PROXY, ROOT


async def test_a_test_number_verifies_with_its_fixed_code_and_is_never_messaged(twilio_app, twilio):
    # given
    test_phone, real_phone = new_phone(), new_phone()
    async with twilio_app(TEST_PHONE_CODES=f"{test_phone}=654321") as api:
        # when
        sent = await api.run(
            d.SIGNUP, {"input": {"phone": test_phone, "password": STRONG_PASSWORD}}
        )
        verify = {"phone": test_phone, "challenge": sent["challenge"], "code": "654321"}
        session = await api.run(d.VERIFY_PHONE, {"input": verify})
        await api.run(d.SIGNUP, {"input": {"phone": real_phone, "password": STRONG_PASSWORD}})
        await twilio.wait(real_phone)  # the worker is sending meanwhile
        await asyncio.sleep(0.3)
        rows = await OutboxMessage.filter(phone=test_phone).order_by("id")
    # then
    assert sent["__typename"] == "VerificationSent"
    assert session["__typename"] == "Session"
    assert twilio.seen(test_phone) == []
    assert [(r.action, r.state, r.body) for r in rows] == [
        ("verify_signup", "suppressed", None),
        ("signup_verified", "suppressed", None),
    ]


def test_production_refuses_test_phone_codes():
    environ = {
        "APP_ENV": "production",
        "JWT_SECRET": "p" * 40,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TEST_PHONE_CODES": "+15005550006=123456",
    }
    with pytest.raises(SettingsError, match="TEST_PHONE_CODES"):
        config.load(environ=environ)
    # and the server says so and does not start
    run = subprocess.run(
        [sys.executable, "main.py"],
        cwd=ROOT,
        env={**environ, **NO_PROXY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "TEST_PHONE_CODES" in run.stderr


async def test_twilio_magic_numbers_send_or_fail_as_with_test_credentials(twilio_app, twilio):
    # given: +15005550006 is a valid magic To number; +15005550009 is not SMS-capable
    async with twilio_app(RESEND_COOLDOWN_SECONDS="0") as api:
        # when
        for phone in ("+15005550006", "+15005550009"):
            await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
        await twilio.wait("+15005550006")
        await twilio.wait_seen("+15005550009")
        await asyncio.sleep(0.3)
        refused = await OutboxMessage.filter(phone="+15005550009").order_by("-id").first()
    # then
    assert len(twilio.to("+15005550006")) >= 1
    assert twilio.to("+15005550009") == []
    assert refused is not None and refused.last_error_code == 21614
