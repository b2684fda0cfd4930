"""The TypeScript client (clients/typescript, the npm package phonegate-client) built with
tsc and its example run with Node against a started `main.py`: every flow, signup to
deleteAccount, through the typed fetch wrapper. The server accepts trusted documents only
(TRUSTED_DOCUMENTS=only), so the run also shows the client sends document ids.

Needs Node.js and npm (the npm registry for `npm ci`); outside CI it skips without them.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import servers
from tests.support import new_phone
from tests.test_graphql_over_http import _need

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clients" / "typescript"
CODE = "246810"


@pytest.fixture(scope="module")
def built() -> Path:
    npm = _need("npm")
    _need("node")
    for command in (["ci", "--no-audit", "--no-fund", "--loglevel=error"], ["run", "build"]):
        done = subprocess.run(
            [npm, *command], cwd=PACKAGE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return PACKAGE / "dist" / "example.js"


@pytest.fixture
def phones() -> tuple[str, str]:
    return new_phone(), new_phone()


@pytest.fixture
def server(phones: tuple[str, str]) -> Iterator[servers.Server]:
    with tempfile.TemporaryDirectory(prefix="phonegate-ts-") as folder:
        env = servers.base_env(
            f"sqlite://{Path(folder) / 'ts.sqlite3'}",
            servers.free_port(),
            APP_ENV="development",
            LOG_FORMAT="text",
            TRUSTED_DOCUMENTS="only",
            RESEND_COOLDOWN_SECONDS="0",  # the example logs in thrice within seconds
            TEST_PHONE_CODES=",".join(f"{phone}={CODE}" for phone in phones),
        )
        server = servers.start(env, Path(folder) / "server.log", migrate_first=False)
        try:
            yield server
        finally:
            server.stop()


def test_the_typescript_example_runs_every_flow_with_node_against_a_started_server(
    built: Path, server: servers.Server, phones: tuple[str, str]
):
    # when
    done = subprocess.run(
        ["node", str(built), f"{server.url}/graphql", *phones, CODE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # then
    assert done.returncode == 0, done.stdout + done.stderr + server.log()[-3000:]
    lines = done.stdout.splitlines()
    assert f"logged in as {phones[0]}" in lines
    assert any(line.startswith("code sent to ") for line in lines)
    assert lines[-1] == "walkthrough done"


def test_the_typescript_second_factors_example_runs_against_a_started_server(
    built: Path, server: servers.Server, phones: tuple[str, str]
):
    # when: the authenticator app set up and used, recovery codes, a reset, the app off
    done = subprocess.run(
        ["node", str(built.parent / "second_factors.js"), f"{server.url}/graphql", phones[0], CODE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # then
    assert done.returncode == 0, done.stdout + done.stderr + server.log()[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "recovery codes: 10"
    assert lines.count("methods: TOTP RECOVERY_CODE; SMS sent to: none") == 3
    assert "recovery code again: InvalidCode" in lines
    assert "reset without the second factor: InvalidInput on secondFactorCode" in lines
    assert any(
        line.startswith("codes left: 7; newest events: login recovery_code_used") for line in lines
    )
    assert lines[-2:] == ["authenticator app off", "second factors done"]
