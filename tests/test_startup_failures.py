"""A start that cannot succeed says why in one line and exits non-zero: no traceback, no
"startup complete" before the exit. main.py is run as the operator runs it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN, TEST_SIGNING_KEY

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]  # nothing listens on it once closed
    return port


def start(tmp_path: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "JWT_SECRET": SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
        "PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *command],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(run: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("phonegate: cannot start: ")
    for text in expected:
        assert text in run.stderr


@pytest.mark.parametrize(
    "command", [[], ["disable-totp", "--phone", "+15005550006", "--reason", "r"]], ids=str
)
def test_a_missing_templates_file_is_one_line(tmp_path, command):
    # given a migrated database (disable-totp queues a notice: it renders the templates too)
    assert start(tmp_path, "migrate").returncode == 0
    # when
    run = start(tmp_path, *command, SMS_TEMPLATES_FILE=str(tmp_path / "nowhere.json"))
    assert_one_line(run, "SMS_TEMPLATES_FILE=", "nowhere.json", "No such file")


def test_a_code_template_without_its_code_is_one_line(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps({"verify_signup": "Welcome, no code"}))
    run = start(tmp_path, SMS_TEMPLATES_FILE=str(tmp_path / "t.json"))
    assert_one_line(run, "'verify_signup' (en) must contain {code}")


def test_a_sqlite_database_in_a_missing_folder_is_one_line(tmp_path):
    run = start(tmp_path, DATABASE_URL=f"sqlite://{tmp_path}/missing/db.sqlite3")
    assert_one_line(run, "database sqlite://", "missing does not exist")


PRODUCTION = {
    "APP_ENV": "production",
    "JWT_PRIVATE_KEY": TEST_SIGNING_KEY,
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC1",
    "TWILIO_AUTH_TOKEN": "t",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["outbox"], {}),
        (["disable-totp", "--phone", "+15005550006", "--reason", "r"], {}),
        ([], PRODUCTION),  # production serves only a database already migrated
    ],
    ids=["outbox", "disable-totp", "production"],
)
def test_a_database_not_migrated_is_one_line(tmp_path, command, env):
    # given an empty database (the SQLite file exists, no table in it)
    run = start(tmp_path, *command, **env)
    # then one line that says what to run, and no table was created
    assert_one_line(run, "database sqlite://", "not migrated", "main.py migrate")
    assert sqlite3.connect(tmp_path / "db.sqlite3").execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'users'"
    ).fetchone() == (0,)


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_a_postgres_database_that_does_not_exist_is_one_line(tmp_path, app_env):
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/phonegate_missing_{secrets.token_hex(3)}"
    run = start(tmp_path, DATABASE_URL=url, **(PRODUCTION if app_env == "production" else {}))
    assert_one_line(run, f"database {url}: does not exist")  # it answered: no outage


def test_a_database_that_refuses_connections_is_one_line_without_its_password(tmp_path):
    port = free_port()
    run = start(tmp_path, DATABASE_URL=f"postgres://app:hunter2@127.0.0.1:{port}/app")
    assert_one_line(run, f"database postgres://app:***@127.0.0.1:{port}/app:")
    assert "hunter2" not in run.stderr


def test_a_database_that_never_answers_is_one_line(tmp_path):
    # given a server that accepts connections and says nothing
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = silent.getsockname()[1]
    try:
        # when
        run = start(tmp_path, DATABASE_URL=f"postgres://app@127.0.0.1:{port}/app")
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        silent.close()
    # then
    assert_one_line(run, "did not answer in 10 s")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line(tmp_path, workers):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = start(
            tmp_path,
            PORT=str(port),
            WEB_CONCURRENCY=workers,
            RATE_LIMIT_STORAGE="redis://127.0.0.1:6379/15",
        )
    assert_one_line(run, f"cannot listen on 127.0.0.1:{port} (PORT): Address already in use")
    assert not (tmp_path / "db.sqlite3").exists()  # stopped before anything else


def test_a_metrics_port_in_use_is_one_line(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = start(tmp_path, METRICS_PORT=str(port))
    assert_one_line(run, f"cannot listen on 127.0.0.1:{port} (METRICS_PORT)")
