"""SIGTERM on a real server: it stops accepting, finishes the request in flight, puts back
the messages its outbox worker claimed, and closes the Twilio client and the database pool.
Also: metrics served on METRICS_PORT only."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from bench import servers
from bench.twilio_double import TwilioDouble
from tests import documents as d
from tests.conftest import server_database
from tests.support import STRONG_PASSWORD, new_phone


@pytest.fixture
def database() -> Iterator[str]:
    with server_database("phonegate_shutdown") as url:
        yield url


@pytest.fixture
async def hanging_twilio() -> AsyncIterator[TwilioDouble]:
    twilio = await TwilioDouble(delay_seconds=60).start()
    yield twilio
    await twilio.stop()


@contextlib.asynccontextmanager
async def server(env: dict[str, str], log_path) -> AsyncIterator[servers.Server]:
    running = await asyncio.to_thread(servers.start, env, log_path)
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop, 10)


async def signup(client: httpx.AsyncClient, phone: str) -> dict:
    body = {
        "query": d.SIGNUP,
        "variables": {"input": {"phone": phone, "password": STRONG_PASSWORD}},
    }
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["signup"]


async def test_sigterm_finishes_the_request_in_flight_and_puts_back_claimed_messages(
    database, hanging_twilio, tmp_path
):
    # given: slow hashing (a request stays in flight) and a Twilio that never answers
    env = servers.base_env(
        database,
        servers.free_port(),
        ARGON2_TIME_COST="40",
        **hanging_twilio.settings(),
        TWILIO_TIMEOUT_SECONDS="5",  # the drain at shutdown waits at most this long
    )
    first, second = new_phone(), new_phone()
    async with server(env, tmp_path / "server.log") as app:
        async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
            assert (await signup(client, first))["__typename"] == "VerificationSent"
            await asyncio.sleep(1.0)  # its SMS is claimed and hangs at the provider
            in_flight = asyncio.create_task(signup(client, second))
            await asyncio.sleep(0.3)
            # when
            app.process.send_signal(15)
            refused = await _refused_soon(app.url)
            answer = await in_flight
        code = await asyncio.to_thread(app.process.wait, 40)
    # then
    log = app.log()
    assert answer["__typename"] == "VerificationSent"
    assert refused, "the server still accepted connections after SIGTERM"
    assert code in (0, 143), log[-3000:]  # one uvicorn process re-raises SIGTERM after it
    assert "Application shutdown complete" in log
    assert "Unclosed" not in log and "Traceback" not in log, log[-3000:]
    conn = await asyncpg.connect(database)
    try:
        states = await conn.fetch(
            "SELECT phone, state FROM outbox_messages WHERE phone = ANY($1::text[])",
            [first, second],
        )
        assert {r["state"] for r in states} == {"queued"}, states
        assert {r["phone"] for r in states} == {first, second}
        others = await _connections_left(conn, database.rsplit("/", 1)[1])
    finally:
        await conn.close()
    assert others == 0, "the database pool was not closed"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def _refused_soon(url: str) -> bool:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient(base_url=url, timeout=0.5) as fresh:
                await fresh.get("/healthz")
        except httpx.TransportError:
            return True
        await asyncio.sleep(0.05)
    return False


async def _connections_left(conn: asyncpg.Connection, name: str) -> int:
    for _ in range(40):
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        if count == 0:
            return 0
        await asyncio.sleep(0.05)
    return int(count)


async def test_metrics_port_serves_the_metrics_of_every_worker(database, tmp_path):
    # given
    metrics_port = servers.free_port()
    env = servers.base_env(
        database,
        servers.free_port(),
        APP_ENV="development",
        WEB_CONCURRENCY="2",
        METRICS_PORT=str(metrics_port),
        ARGON2_MEMORY_KIB="1024",
        ARGON2_TIME_COST="1",
    )
    async with server(env, tmp_path / "server.log") as app:
        async with httpx.AsyncClient(base_url=app.url) as client:
            for _ in range(5):
                await client.post("/graphql", json={"query": "{ __typename }"})
            public = await client.get("/metrics")
        # when
        text = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics_port}/metrics")
    # then
    assert public.status_code == 404
    line = 'phonegate_request_seconds_count{operation="__typename",path="/graphql"}'
    assert any(x.startswith(line) and float(x.split()[-1]) == 5 for x in text.splitlines()), text
