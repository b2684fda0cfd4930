"""Settings: validated at start with a one-line error; production refuses unsafe ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import settings as config
from core.settings import SettingsError
from tests.conftest import TEST_SIGNING_KEY as KEY

ROOT = Path(__file__).resolve().parent.parent


def main(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    problems = error.value.problems
    assert expected in problems[0] and all("\n" not in problem for problem in problems)


def test_production_with_safe_settings_loads():
    env = {"APP_ENV": "production", "JWT_SECRET": SECRET, "JWT_PRIVATE_KEY": KEY, **TWILIO}
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
    for name, _ in config.options():
        assert config.env_name(name) in run.stdout, name
    for command in ("migrate", "outbox", "export-schema"):
        assert command in run.stdout


def test_a_command_line_flag_overrides_the_environment(tmp_path):
    db = tmp_path / "f.sqlite3"
    env = {**os.environ, "PORT": "abc", "DATABASE_URL": f"sqlite://{db}", "JWT_SECRET": SECRET}
    run = main(["--port", "8123", "migrate"], env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert db.exists()


def test_without_jwt_secret_one_secret_is_generated_and_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = config.with_local_secret(config.load(environ={}), announce=False)
    second = config.with_local_secret(config.load(environ={}), announce=False)
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


def test_every_mistake_is_reported_in_one_run_one_line_each(tmp_path):
    # given three mistakes
    env = {"PORT": "abc", "SMS_BACKEND": "pigeon", "VERIFICATION_CODE_LENGTH": "4"}
    # when
    run = main([], env=env, cwd=tmp_path)
    # then
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2
    assert [line.split(":")[2].split("=")[0].strip() for line in lines] == [
        "PORT",
        "SMS_BACKEND",
        "VERIFICATION_CODE_LENGTH",
    ]
    assert all(line.startswith("phonegate: configuration error: ") for line in lines)


def test_production_lists_all_its_refusals_at_once():
    env = {"APP_ENV": "production", "TEST_PHONE_CODES": "+15005550006=123456"}
    with pytest.raises(SettingsError) as error:
        config.load(environ=env)
    assert error.value.problems == [
        "APP_ENV=production needs JWT_SECRET",
        "APP_ENV=production refuses SMS_BACKEND=console",
        "APP_ENV=production refuses TEST_PHONE_CODES",
        "APP_ENV=production needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE",
    ]


def test_a_bad_value_does_not_hide_the_combined_checks():
    env = {"PORT": "abc", "SMS_BACKEND": "twilio", "JWT_SECRET": SECRET}
    with pytest.raises(SettingsError) as error:
        config.load(environ=env)
    assert [p.split("=")[0].split(" ")[0] for p in error.value.problems] == [
        "PORT",
        "SMS_BACKEND",
        "SMS_BACKEND",
    ]


def test_a_secret_is_never_echoed_in_an_error():
    with pytest.raises(SettingsError) as error:
        config.load(environ={"JWT_SECRET": "hunter2"})
    assert str(error.value) == "JWT_SECRET: must be at least 32 bytes"


@pytest.mark.parametrize(
    ("workers", "storage", "refused"),
    [("2", "memory://", True), ("1", "memory://", False), ("2", "redis://127.0.0.1:6379/0", False)],
)
def test_production_refuses_several_workers_with_in_memory_limits(workers, storage, refused):
    env = {
        "APP_ENV": "production",
        "JWT_SECRET": SECRET,
        "JWT_PRIVATE_KEY": KEY,
        **TWILIO,
        "WEB_CONCURRENCY": workers,
        "RATE_LIMIT_STORAGE": storage,
    }
    if refused:
        with pytest.raises(SettingsError, match="WEB_CONCURRENCY above 1 with RATE_LIMIT"):
            config.load(environ=env)
    else:
        assert config.load(environ=env).web_concurrency == int(workers)


def test_production_with_several_workers_and_memory_limits_does_not_start(tmp_path):
    env = {
        "APP_ENV": "production",
        "JWT_SECRET": SECRET,
        "JWT_PRIVATE_KEY": KEY,
        **TWILIO,
        "WEB_CONCURRENCY": "2",
    }
    run = main([], env=env, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "WEB_CONCURRENCY" in run.stderr


def test_a_secret_is_read_from_its_file(tmp_path):
    (tmp_path / "jwt").write_text(SECRET + "\n")
    settings = config.load(environ={"JWT_SECRET_FILE": str(tmp_path / "jwt")})
    assert settings.jwt_secret == SECRET


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"JWT_SECRET_FILE": "/nonexistent/jwt"}, "JWT_SECRET_FILE='/nonexistent/jwt'"),
        ({"JWT_SECRET_FILE": "/nonexistent/jwt", "JWT_SECRET": SECRET}, "both set"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_one_line(env, expected):
    with pytest.raises(SettingsError) as error:
        config.load(environ=env)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_secrets_are_no_flags(tmp_path):
    help_text = main(["--help"], cwd=tmp_path).stdout
    run = main(["--jwt-secret", SECRET], cwd=tmp_path)
    assert "--jwt-secret" not in help_text and "--twilio-auth-token" not in help_text
    assert "--metrics-token" not in help_text and "--port" in help_text
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "JWT_SECRET is a secret" in run.stderr and SECRET not in run.stderr


def test_a_command_has_help_of_its_own(tmp_path):
    run = main(["outbox", "--help"], cwd=tmp_path)
    assert run.returncode == 0
    assert "--retry" in run.stdout and "--limit" in run.stdout
    assert "--port" not in run.stdout and "--app-env" not in run.stdout


def test_version_is_the_project_version(tmp_path):
    run = main(["--version"], cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "phonegate 0.1.0"


def test_an_unknown_command_answers_one_line(tmp_path):
    run = main(["serv"], cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "invalid choice: 'serv'" in run.stderr


def test_export_schema_writes_nothing_into_the_working_directory(tmp_path):
    run = main(["export-schema"], env={"JWT_SECRET": ""}, cwd=tmp_path)
    assert run.returncode == 0 and "type Mutation" in run.stdout
    assert list(tmp_path.iterdir()) == [] and run.stderr == ""


def test_a_command_names_itself_in_its_usage_and_its_errors(tmp_path):
    # given a command's flag with a bad value
    run = main(["outbox", "--limit", "x"], cwd=tmp_path)
    # then one line, naming the command as it is typed, with a help command that runs
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("main.py outbox: argument --limit: invalid int value: 'x'")
    assert "(see 'main.py outbox --help')" in run.stderr
    assert main(["outbox", "--help"], cwd=tmp_path).stdout.startswith("usage: main.py outbox ")


@pytest.mark.parametrize("command", ["outbox", "migrate", "serve"])
def test_a_secret_flag_after_a_command_is_refused_without_its_value(tmp_path, command):
    run = main([command, "--jwt-secret", SECRET], cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "JWT_SECRET is a secret" in run.stderr and SECRET not in run.stderr
