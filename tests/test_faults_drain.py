"""SIGTERM with two workers: the listening sockets close first, so a new connection is
refused at once (never accepted, held and then reset, which leaves a client that sent a
POST unable to know whether it ran), and the request in flight is answered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bench import servers
from tests import documents as d
from tests.conftest import server_database
from tests.support import STRONG_PASSWORD, new_phone

pytestmark = pytest.mark.postgres_only  # a real multi-worker server; once per run


@pytest.fixture
def database(db_kind) -> Iterator[str]:
    with server_database("phonegate_drain") as url:
        yield url


def probe(port: int) -> str:
    """One new connection and a request on it: "refused", "answered", "reset" (accepted,
    then dropped without an answer) or "held" (accepted, no answer within 3 s)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "held"  # the connect itself timed out: the backlog of a socket nobody reads
    with sock:
        sock.settimeout(3)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = sock.recv(64)
        except TimeoutError:
            return "held"
        except ConnectionResetError:
            return "reset"
        return "answered" if answer.startswith(b"HTTP/1.1 200") else "reset"


def probe_until_refused(port: int, seconds: float) -> list[tuple[float, str]]:
    started = time.monotonic()
    outcomes: list[tuple[float, str]] = []
    while time.monotonic() - started < seconds:
        outcome = probe(port)
        outcomes.append((time.monotonic() - started, outcome))
        if outcome == "refused" and len([o for _, o in outcomes if o == "refused"]) >= 20:
            break
        time.sleep(0.01)
    return outcomes


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_refuses_new_connections_and_answers_the_one_in_flight(
    database, tmp_path, workers
):
    # given: one worker or two, and a signup in flight (slow hashing keeps it there)
    port = servers.free_port()
    env = servers.base_env(
        database,
        port,
        APP_ENV="test",
        WEB_CONCURRENCY=str(workers),
        ARGON2_TIME_COST="10",
        RATE_LIMITS=servers.OPEN_LIMITS,
    )
    running = await asyncio.to_thread(servers.start, env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=60) as client:
            body = {
                "query": d.SIGNUP,
                "variables": {"input": {"phone": new_phone(), "password": STRONG_PASSWORD}},
            }
            in_flight = asyncio.create_task(client.post("/graphql", json=body))
            await asyncio.sleep(0.5)
            # when: SIGTERM to the supervisor, while new connections keep coming
            running.process.send_signal(15)
            outcomes = await asyncio.to_thread(probe_until_refused, port, 5.0)
            answer = await in_flight
        code = await asyncio.to_thread(running.process.wait, 40)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.stop, 5)
    # then: refused soon after the signal, never accepted and then dropped or held
    kinds = [o for _, o in outcomes]
    assert "reset" not in kinds and "held" not in kinds, outcomes
    first_refusal = next(at for at, o in outcomes if o == "refused")
    counts = {k: kinds.count(k) for k in set(kinds)}
    print(f"{workers} worker(s): first refusal {first_refusal:.3f}s after SIGTERM, {counts}")
    assert first_refusal < 1.5, outcomes
    assert answer.status_code == 200
    assert answer.json()["data"]["signup"]["__typename"] == "VerificationSent"
    # one uvicorn process re-raises SIGTERM once stopped (README, Shutdown)
    assert code == (0 if workers > 1 else 143), running.log()[-3000:]


def probe_while(port: int, done: threading.Event) -> list[str]:
    outcomes = []
    while not done.is_set():
        outcomes.append(probe(port))
        time.sleep(0.02)
    return outcomes


async def test_sighup_replaces_both_workers_and_every_connection_is_answered(database, tmp_path):
    # given: two workers under a steady stream of new connections
    port = servers.free_port()
    env = servers.base_env(database, port, APP_ENV="test", WEB_CONCURRENCY="2")
    running = await asyncio.to_thread(servers.start, env, tmp_path / "server.log")
    done = threading.Event()
    try:
        before = set(running.pids())
        probing = asyncio.create_task(asyncio.to_thread(probe_while, port, done))
        await asyncio.sleep(0.5)
        # when: SIGHUP, until both workers are new ones
        running.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = set(running.pids())
            if len(now) == 2 and not now & before:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        done.set()
        outcomes = await probing
    finally:
        done.set()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.stop, 10)
    # then: both replaced, and not one connection refused, dropped or held
    print(f"SIGHUP, two workers replaced: {len(outcomes)} probes, {set(outcomes)}")
    assert len(now) == 2 and not now & before, (before, now)
    assert len(outcomes) > 50
    assert set(outcomes) == {"answered"}, {o: outcomes.count(o) for o in set(outcomes)}


async def test_sigterm_to_the_supervisor_and_its_workers_at_once_refuses_new_connections(
    database, tmp_path
):
    # given: two workers, stopped the way systemd stops a unit (KillMode=control-group) and
    # a terminal's Ctrl-C stops a foreground job: the signal reaches every process at once
    port = servers.free_port()
    env = servers.base_env(database, port, APP_ENV="test", WEB_CONCURRENCY="2")
    running = await asyncio.to_thread(servers.start, env, tmp_path / "server.log")
    try:
        workers = running.pids()
        assert len(workers) == 2
        # when: SIGTERM to the supervisor and both workers together, new connections coming
        for pid in [running.process.pid, *workers]:
            os.kill(pid, signal.SIGTERM)
        outcomes = await asyncio.to_thread(probe_until_refused, port, 5.0)
        code = await asyncio.to_thread(running.process.wait, 40)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.stop, 5)
    # then: refused at once, never accepted and then dropped or held
    kinds = [o for _, o in outcomes]
    assert "reset" not in kinds and "held" not in kinds, (outcomes[:8], running.log()[-4000:])
    assert next(at for at, o in outcomes if o == "refused") < 1.5, outcomes
    assert code == 0, running.log()[-3000:]
