"""An authenticator app (TOTP) and recovery codes, set up from outside with the otpauth URI
(codes computed with pyotp as a phone app would), and the security history they write."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from typing import Any

import pyotp

from core.masking import mask_phone
from models import RecoveryCode, SecurityEvent, TotpCredential
from tests import documents as d
from tests.conftest import TEST_SECRET, random_client, signup_verified
from tests.support import STRONG_PASSWORD, Api
from tests.twilio_double import NO_PROXY, ROOT

AGENT = "Mozilla/5.0 (phonegate tests) " + "x" * 300  # longer than the 200 kept


async def enrol(api: Api, session: dict[str, Any]) -> tuple[str, list[str]]:
    """setupTotp + confirmTotp as a person with a phone app would: (secret, recovery codes)."""
    token = session["accessToken"]
    setup = await api.run(d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token)
    assert setup["__typename"] == "TotpSetup", setup
    app = pyotp.parse_uri(setup["otpauthUri"])
    confirmed = await api.run(d.CONFIRM_TOTP, {"code": app.now()}, token=token)
    assert confirmed["__typename"] == "RecoveryCodes", confirmed
    return setup["secret"], confirmed["codes"]


async def me(api: Api, session: dict[str, Any], first: int = 20) -> dict[str, Any]:
    return await api.run(d.ME_SECOND_FACTORS, {"first": first}, token=session["accessToken"])


async def notice_saying(api: Api, phone: str, text: str) -> str:
    """The body of a message to ``phone`` saying ``text``: notices queued together go out
    merged into one SMS (under the first one's action type)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in api.sms.to(phone):
            if text in message.body:
                return message.body
        await asyncio.sleep(0.02)
    raise AssertionError(f"no SMS saying {text!r} to {phone}: {api.sms.messages}")


def a_wrong_code(secret: str) -> str:
    """Six digits that are no code of the secret within the drift window around now."""
    app = pyotp.TOTP(secret)
    near = {app.at(time.time() + 30 * offset) for offset in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


async def test_enrolling_an_authenticator_app_turns_totp_on_with_ten_recovery_codes(
    settings, start_app
):
    # given an account, and a client with its own address and user agent
    address = random_client()
    async with start_app(settings, client=address) as api:
        session = await signup_verified(api)
        phone = session["user"]["phone"]
        token = session["accessToken"]
        # when it sets up TOTP
        setup = await api.run(
            d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token, headers={"User-Agent": AGENT}
        )
        # then the URI is one an app can use, carrying the secret; TOTP is not on yet
        assert setup["__typename"] == "TotpSetup"
        assert setup["otpauthUri"].startswith("otpauth://totp/")
        app = pyotp.parse_uri(setup["otpauthUri"])
        assert app.secret == setup["secret"] and app.issuer == "phonegate"
        assert (await me(api, session))["totpEnabled"] is False
        # when it confirms with the app's current code
        confirmed = await api.run(
            d.CONFIRM_TOTP, {"code": app.now()}, token=token, headers={"User-Agent": AGENT}
        )
        # then TOTP is on, with ten distinct codes, told by SMS, in the history
        assert confirmed["__typename"] == "RecoveryCodes"
        assert len(set(confirmed["codes"])) == 10
        state = await me(api, session)
        assert state["totpEnabled"] is True and state["recoveryCodesLeft"] == 10
        notice = await notice_saying(api, phone, "login for your phonegate account was turned on")
        assert setup["secret"] not in notice
        latest = state["securityEvents"][0]
        assert latest["kind"] == "totp_enabled"
        assert latest["ipAddress"] == address[0]
        assert latest["userAgent"] == AGENT[:200]
        # and the secret is not stored in clear
        row = await TotpCredential.get(user_id=int(session["user"]["id"]))
        assert row.secret_sealed and setup["secret"] not in row.secret_sealed
        assert row.pending_sealed is None


async def test_confirm_refuses_a_wrong_code_and_a_code_without_a_setup(api):
    # given
    session = await signup_verified(api)
    token = session["accessToken"]
    # when confirmTotp comes before any setup
    early = await api.run(d.CONFIRM_TOTP, {"code": "123456"}, token=token)
    # then
    assert early["__typename"] == "InvalidCode"
    # when a wrong code follows a setup
    setup = await api.run(d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token)
    wrong = await api.run(d.CONFIRM_TOTP, {"code": a_wrong_code(setup["secret"])}, token=token)
    not_digits = await api.run(d.CONFIRM_TOTP, {"code": "abcdef"}, token=token)
    anonymous = await api.run(d.CONFIRM_TOTP, {"code": pyotp.TOTP(setup["secret"]).now()})
    # then nothing is on
    assert wrong["__typename"] == "InvalidCode"
    assert not_digits["__typename"] == "InvalidCode"
    assert anonymous["__typename"] == "NotAuthenticated"
    state = await me(api, session)
    assert state["totpEnabled"] is False and state["recoveryCodesLeft"] == 0


async def test_wrong_confirm_codes_are_counted_until_rate_limited(make_settings, start_app):
    settings = make_settings(RATE_LIMITS="verify_per_client=4/minute")  # 1 for verifyPhone
    async with start_app(settings) as api:
        session = await signup_verified(api)
        token = session["accessToken"]
        setup = await api.run(d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token)
        wrong = a_wrong_code(setup["secret"])
        answers = [
            (await api.run(d.CONFIRM_TOTP, {"code": wrong}, token=token))["__typename"]
            for _ in range(4)
        ]
        assert answers == ["InvalidCode", "InvalidCode", "InvalidCode", "RateLimited"]
        # even the right code waits now
        right = await api.run(
            d.CONFIRM_TOTP, {"code": pyotp.TOTP(setup["secret"]).now()}, token=token
        )
        assert right["__typename"] == "RateLimited" and right["retryAfterSeconds"] > 0
        assert (await me(api, session))["totpEnabled"] is False


async def test_setting_up_again_keeps_the_old_secret_until_the_new_one_is_confirmed(api):
    # given TOTP on
    session = await signup_verified(api)
    token = session["accessToken"]
    old_secret, _ = await enrol(api, session)
    # when a new setup is started but not confirmed
    again = await api.run(d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token)
    # then TOTP is still on with the old secret
    assert again["__typename"] == "TotpSetup" and again["secret"] != old_secret
    assert (await me(api, session))["totpEnabled"] is True
    row = await TotpCredential.get(user_id=int(session["user"]["id"]))
    assert row.secret_sealed is not None and row.pending_sealed is not None


async def test_password_protected_operations_refuse_a_wrong_password_and_anonymous_callers(api):
    session = await signup_verified(api)
    token = session["accessToken"]
    await enrol(api, session)
    for document in (d.SETUP_TOTP, d.DISABLE_TOTP, d.REGENERATE_RECOVERY_CODES):
        wrong = await api.run(document, {"password": "not the password"}, token=token)
        anonymous = await api.run(document, {"password": STRONG_PASSWORD})
        assert wrong["__typename"] == "InvalidCredentials", document
        assert anonymous["__typename"] == "NotAuthenticated", document
    state = await me(api, session)
    assert state["totpEnabled"] is True and state["recoveryCodesLeft"] == 10


async def test_password_protected_operations_are_rate_limited_per_account(make_settings, start_app):
    settings = make_settings(RATE_LIMITS="account_ops=2/minute")
    async with start_app(settings) as api:
        session = await signup_verified(api)
        token = session["accessToken"]
        answers = [
            (await api.run(d.SETUP_TOTP, {"password": STRONG_PASSWORD}, token=token))["__typename"]
            for _ in range(3)
        ]
        assert answers == ["TotpSetup", "TotpSetup", "RateLimited"]
        limited = await api.run(
            d.REGENERATE_RECOVERY_CODES, {"password": STRONG_PASSWORD}, token=token
        )
        assert limited["__typename"] == "RateLimited" and limited["retryAfterSeconds"] > 0


async def test_disable_turns_totp_off_and_ends_the_recovery_codes(api):
    # given
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    await enrol(api, session)
    # when
    off = await api.run(d.DISABLE_TOTP, {"password": STRONG_PASSWORD}, token=session["accessToken"])
    # then
    assert off["__typename"] == "TwoFactorUpdated"
    assert off["user"] == {"totpEnabled": False, "recoveryCodesLeft": 0}
    assert await RecoveryCode.filter(user_id=int(session["user"]["id"])).count() == 0
    await notice_saying(api, phone, "app login for your phonegate account was turned off")
    assert (await me(api, session))["securityEvents"][0]["kind"] == "totp_disabled"
    # a second disable changes nothing and records nothing
    again = await api.run(
        d.DISABLE_TOTP, {"password": STRONG_PASSWORD}, token=session["accessToken"]
    )
    assert again["__typename"] == "TwoFactorUpdated"
    kinds = [e["kind"] for e in (await me(api, session))["securityEvents"]]
    assert kinds.count("totp_disabled") == 1


async def test_regenerated_recovery_codes_replace_the_old_ones_with_a_notice(api):
    # given
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    _, first = await enrol(api, session)
    # when
    again = await api.run(
        d.REGENERATE_RECOVERY_CODES, {"password": STRONG_PASSWORD}, token=session["accessToken"]
    )
    # then
    assert again["__typename"] == "RecoveryCodes"
    assert len(set(again["codes"])) == 10 and not set(again["codes"]) & set(first)
    notice = await notice_saying(api, phone, "New recovery codes were made")
    assert all(code not in notice for code in again["codes"])
    state = await me(api, session)
    assert state["recoveryCodesLeft"] == 10
    assert state["securityEvents"][0]["kind"] == "recovery_codes_regenerated"


async def test_security_events_are_the_callers_own_newest_first_and_limited(api):
    # given two accounts, one with three events
    mine = await signup_verified(api)
    theirs = await signup_verified(api)
    await enrol(api, mine)
    for _ in range(2):
        await api.run(
            d.REGENERATE_RECOVERY_CODES, {"password": STRONG_PASSWORD}, token=mine["accessToken"]
        )
    # when
    all_mine = (await me(api, mine))["securityEvents"]
    one = (await me(api, mine, first=1))["securityEvents"]
    their_view = (await me(api, theirs))["securityEvents"]
    # then
    kinds = [e["kind"] for e in all_mine]
    assert kinds[:3] == ["recovery_codes_regenerated", "recovery_codes_regenerated", "totp_enabled"]
    times = [e["at"] for e in all_mine]
    assert times == sorted(times, reverse=True)
    assert len(one) == 1 and one[0]["kind"] == "recovery_codes_regenerated"
    assert all(e["kind"] not in {"totp_enabled", "recovery_codes_regenerated"} for e in their_view)
    assert (await api.run(d.ME_SECOND_FACTORS)) is None


async def test_no_secret_or_code_reaches_a_log_line_an_event_or_a_message(api, caplog):
    caplog.set_level(logging.DEBUG, logger="phonegate")
    caplog.set_level(logging.INFO)
    session = await signup_verified(api)
    secret, codes = await enrol(api, session)
    again = await api.run(
        d.REGENERATE_RECOVERY_CODES, {"password": STRONG_PASSWORD}, token=session["accessToken"]
    )
    await notice_saying(api, session["user"]["phone"], "New recovery codes were made")
    secrets_seen = [secret, *codes, *again["codes"]]
    stored = await SecurityEvent.filter(user_id=int(session["user"]["id"])).values()
    sent = " ".join(m.body for m in api.sms.messages)
    for value in secrets_seen:
        assert value not in caplog.text
        assert value not in repr(stored)
        assert value not in sent


def operator_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **NO_PROXY,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
    }
    return subprocess.run(
        [sys.executable, "main.py", "disable-totp", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_operator_command_turns_totp_off_for_one_who_lost_both_factors(api, database_url):
    # given an account with TOTP on, logged in
    session = await signup_verified(api)
    phone = session["user"]["phone"]
    secret, codes = await enrol(api, session)
    # when an operator runs the command (after checking the identity elsewhere)
    run = await asyncio.to_thread(
        operator_command, database_url, "--phone", phone, "--reason", "ticket 42: ID checked"
    )
    # then TOTP is off, the codes and sessions ended, the history and the phone told
    assert run.returncode == 0, run.stderr
    assert phone not in run.stdout and mask_phone(phone) in run.stdout
    assert "ticket 42: ID checked" in run.stderr  # the log line, with the reason
    for value in (secret, *codes):
        assert value not in run.stdout + run.stderr
    assert await me(api, session) is None  # the session ended
    login = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}})
    assert login["__typename"] == "Session"
    state = await me(api, login)
    assert state["totpEnabled"] is False and state["recoveryCodesLeft"] == 0
    assert [e["kind"] for e in state["securityEvents"][:2]] == ["login", "totp_disabled"]
    assert state["securityEvents"][1]["userAgent"].startswith("operator")
    await notice_saying(api, phone, "app login for your phonegate account was turned off")
    # and an unknown phone or a missing reason changes nothing
    unknown = await asyncio.to_thread(
        operator_command, database_url, "--phone", "+14155550100", "--reason", "x"
    )
    no_reason = await asyncio.to_thread(
        operator_command, database_url, "--phone", phone, "--reason", " "
    )
    assert unknown.returncode == 1 and no_reason.returncode == 2
