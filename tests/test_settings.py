"""Settings: validated at start with a one-line error; production refuses unsafe ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import settings as config
from core.settings import SettingsError

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 40
TWILIO = {
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC1",
    "TWILIO_AUTH_TOKEN": "t",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "abc", "JWT_SECRET": SECRET}, "PORT"),
        ({"DATABASE_URL": "nonsense://x", "JWT_SECRET": SECRET}, "DATABASE_URL"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"SMS_BACKEND": "pigeon", "JWT_SECRET": SECRET}, "SMS_BACKEND"),
        ({"SMS_ALLOWED_COUNTRIES": "US,XX", "JWT_SECRET": SECRET}, "SMS_ALLOWED_COUNTRIES"),
        ({"TEST_PHONE_CODES": "+15005550006=12", "JWT_SECRET": SECRET}, "TEST_PHONE_CODES"),
        ({"SMS_BACKEND": "twilio", "JWT_SECRET": SECRET}, "TWILIO_ACCOUNT_SID"),
        ({"RATE_LIMITS": "sms_per_phone=lots", "JWT_SECRET": SECRET}, "RATE_LIMITS"),
        ({"RATE_LIMITS": "no_such_limit=1/minute", "JWT_SECRET": SECRET}, "RATE_LIMITS"),
        ({"APP_ENV": "production", **TWILIO}, "JWT_SECRET"),
        ({"APP_ENV": "production", "JWT_SECRET": SECRET}, "console"),
        (
            {
                "APP_ENV": "production",
                "JWT_SECRET": SECRET,
                **TWILIO,
                "TEST_PHONE_CODES": "+15005550006=123456",
            },
            "TEST_PHONE_CODES",
        ),
    ],
)
def test_bad_settings_are_refused_with_one_line_naming_the_variable(env, expected):
    with pytest.raises(SettingsError) as error:
        config.load(environ=env)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_production_with_safe_settings_loads():
    env = {"APP_ENV": "production", "JWT_SECRET": SECRET, "JWT_PRIVATE_KEY_FILE": "k.pem", **TWILIO}
    assert config.load(environ=env).production


def test_main_refuses_to_start_on_a_bad_setting_with_one_line(tmp_path):
    env = {**os.environ, "PORT": "abc", "JWT_SECRET": SECRET}
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "PORT" in run.stderr


def test_help_lists_every_option_with_its_environment_variable(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0
    for _, option in config.options():
        assert option.env in run.stdout, option.env
    for command in ("migrate", "outbox", "export-schema"):
        assert command in run.stdout


def test_a_command_line_flag_overrides_the_environment(tmp_path):
    env = {**os.environ, "PORT": "abc", "JWT_SECRET": SECRET}
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--port", "8123", "export-schema"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and "type Mutation" in run.stdout


def test_without_jwt_secret_one_secret_is_generated_and_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = config.load(environ={})
    second = config.load(environ={})
    assert first.jwt_secret == second.jwt_secret and len(first.jwt_secret) >= 32
    assert (tmp_path / config.SECRET_FILE).stat().st_mode & 0o077 == 0


def test_migrate_command_creates_the_schema(tmp_path):
    db = tmp_path / "m.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite://{db}", "JWT_SECRET": SECRET}
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    import sqlite3

    tables = {
        r[0]
        for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")
    }
    assert {
        "users",
        "verification_codes",
        "auth_sessions",
        "refresh_tokens",
        "outbox_messages",
    } <= tables


@pytest.mark.parametrize(
    ("workers", "setting", "cores", "expected"),
    [
        ("1", "0", 2, 2),  # one worker: every core
        ("2", "0", 2, 1),  # the cores shared out: no more hashes at once than cores
        ("4", "0", 2, 1),  # at least one each
        ("3", "0", 8, 2),
        ("2", "3", 2, 3),  # set explicitly: as set
    ],
)
def test_hashes_at_once_per_worker_default_to_the_cores_shared_out(
    monkeypatch, workers, setting, cores, expected
):
    from server.app import hash_concurrency

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    settings = config.load(
        environ={"WEB_CONCURRENCY": workers, "HASH_CONCURRENCY": setting, "JWT_SECRET": SECRET}
    )
    assert hash_concurrency(settings) == expected
