"""What an operator reads when the server starts: one format for uvicorn's lines and ours,
each warning once per start however many workers, what the migration applied, the console
SMS at INFO with its code, and no line per file of the reference page."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import STRONG_PASSWORD, new_phone

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")
LONG_TEMPLATE = (
    "Your phonegate verification code for this rather long message is {code}. It expires in "
    "{minutes} minutes. Please do not share it with anyone at all, ever, not even support."
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "APP_ENV")}
    env.update(
        {
            "DATABASE_URL": f"sqlite://{tmp_path / 'db.sqlite3'}",
            "LOG_FORMAT": "text",
            "ARGON2_MEMORY_KIB": "1024",
            "ARGON2_TIME_COST": "1",
            "NO_PROXY": "*",
            **extra,
        }
    )
    return env


def serve_and_stop(tmp_path: Path, env: dict[str, str], workers: int) -> str:
    """Start main.py, wait for every worker, sign up once, fetch the page, stop: the log."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py")],
            cwd=tmp_path,
            env={**env, "PORT": str(port), "WEB_CONCURRENCY": str(workers)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    phone = new_phone()
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < workers:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
            signup = {"phone": phone, "password": STRONG_PASSWORD}
            query = "mutation($i: SignupInput!) { signup(input: $i) { __typename } }"
            client.post("/graphql", json={"query": query, "variables": {"i": signup}})
            for path in ("/", "/app.js", "/style.css", "/favicon.svg"):
                assert client.get(path).status_code == 200
        while f"SMS to {phone}" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    return log.read_text()


def test_two_workers_start_with_each_warning_once_in_one_format(tmp_path):
    # given no JWT_SECRET, a template longer than one segment, in-memory limits, 2 workers
    (tmp_path / "templates.json").write_text(json.dumps({"verify_signup": LONG_TEMPLATE}))
    env = clean_env(tmp_path, SMS_TEMPLATES_FILE=str(tmp_path / "templates.json"))
    # when
    text = serve_and_stop(tmp_path, env, workers=2)
    lines = text.splitlines()
    # then: each warning once
    assert text.count("JWT_SECRET is not set") == 1, text
    assert text.count("more than one SMS segment") == 1, text
    assert text.count("WEB_CONCURRENCY above 1") == 1, text
    # one format for every line, uvicorn's included
    assert [line for line in lines if not LINE.match(line)] == []
    assert any(" INFO uvicorn: Started server process" in line for line in lines)
    # the migration says what it applied
    assert any("applied 0001_initial, 0002_lookup_indexes" in line for line in lines), text
    # the console SMS at INFO, its code readable; no "sent: None"
    (sms,) = [line for line in lines if "SMS to +" in line]
    assert " INFO phonegate.sms: " in sms and re.search(r"code for this .* is \d{6}\.", sms)
    assert "None" not in text and " object at 0x" not in text
    # no line per file of the reference page
    assert not [line for line in lines if "GET other 200" in line], text


def test_one_worker_warns_once_too(tmp_path):
    text = serve_and_stop(tmp_path, clean_env(tmp_path), workers=1)
    assert text.count("JWT_SECRET is not set") == 1, text
    assert "WEB_CONCURRENCY above 1" not in text
    assert [line for line in text.splitlines() if not LINE.match(line)] == []


def test_the_commands_that_do_not_serve_neither_warn_nor_write_a_secret(tmp_path):
    env = clean_env(tmp_path)
    for command in (["migrate"], ["outbox"], ["export-schema"]):
        run = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "JWT_SECRET" not in run.stderr and "WARNING" not in run.stderr
    assert not (tmp_path / ".phonegate-secret").exists()


def test_a_second_migration_says_there_was_nothing_to_apply(tmp_path):
    env = clean_env(tmp_path, JWT_SECRET="m" * 40)
    runs = [
        subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "migrate"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for _ in range(2)
    ]
    assert "applied 0001_initial, 0002_lookup_indexes" in runs[0].stderr
    assert "up to date" in runs[1].stderr and "applied 0" not in runs[1].stderr


def test_json_logs_hold_uvicorn_lines_as_json_too(tmp_path):
    env = clean_env(tmp_path, LOG_FORMAT="json", JWT_SECRET="j" * 40)
    text = serve_and_stop(tmp_path, env, workers=1)
    entries = [json.loads(line) for line in text.splitlines()]  # fails on a line not JSON
    assert {"uvicorn", "phonegate", "phonegate.request", "phonegate.sms"} <= {
        e["logger"] for e in entries
    }
    assert "Started server process" in text
