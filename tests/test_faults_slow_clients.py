"""Slow and idle clients on a real server: connections that never finish their headers or
their body are closed after REQUEST_HEADER_TIMEOUT_SECONDS / REQUEST_BODY_TIMEOUT_SECONDS
and counted, /healthz and `me` keep answering meanwhile, and past
MAX_CONNECTIONS_PER_WORKER a new connection is closed with a log line."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bench import servers
from tests import documents as d
from tests.conftest import server_database

pytestmark = pytest.mark.postgres_only  # a real server; once per run


@pytest.fixture
def database(db_kind) -> Iterator[str]:
    with server_database("phonegate_slow") as url:
        yield url


def open_slow(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def counter(text: str, reason: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'phonegate_slow_connections_closed_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def trickle(sockets: list[socket.socket], every: float, stop: threading.Event) -> None:
    """One more byte of body on each socket every ``every`` seconds, as long as it stays
    open: a client that keeps the connection busy without ever finishing its request."""
    while not stop.wait(every):
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.send(b" ")


async def test_slow_clients_are_closed_in_time_while_healthz_and_me_keep_answering(
    database, tmp_path
):
    # given: short deadlines, and 1,000 connections that never finish their request: idle,
    # headers cut short, a body cut short, and a body sent a byte at a time
    port = servers.free_port()
    env = servers.base_env(
        database,
        port,
        APP_ENV="test",
        REQUEST_HEADER_TIMEOUT_SECONDS="2",
        REQUEST_BODY_TIMEOUT_SECONDS="2",
        MAX_CONNECTIONS_PER_WORKER="1100",
    )
    running = await asyncio.to_thread(servers.start, env, tmp_path / "server.log")
    slow: list[socket.socket] = []
    stop_trickle = threading.Event()
    try:
        partial_headers = b"POST /graphql HTTP/1.1\r\nHost: x\r\n"
        partial_body = partial_headers + b"Content-Length: 100\r\n\r\n{"
        slow += open_slow(port, 250, b"")  # idle from the start
        slow += open_slow(port, 250, partial_headers)
        slow += open_slow(port, 250, partial_body)
        trickling = open_slow(port, 250, partial_body)
        slow += trickling
        opened = time.monotonic()
        trickler = threading.Thread(
            target=trickle, args=(trickling, 0.5, stop_trickle), daemon=True
        )
        trickler.start()
        # when: probes while they are held
        async with httpx.AsyncClient(base_url=running.url, timeout=2) as client:
            slowest = 0.0
            for _ in range(5):
                started = time.monotonic()
                health = await client.get("/healthz")
                me = await client.post("/graphql", json={"query": d.ME})
                assert health.status_code == 200
                assert me.status_code == 200 and me.json() == {"data": {"me": None}}
                slowest = max(slowest, time.monotonic() - started)
            assert slowest < 1.5
            # then: every slow connection closed by the server soon after its deadline
            closed = [closed_by_server(s, max(0.1, opened + 4 - time.monotonic())) for s in slow]
            assert all(closed), f"{closed.count(False)} slow connections still open"
            assert time.monotonic() - opened < 6
            exposition = (await client.get("/metrics")).text
        print(f"1,000 slow connections: slowest /healthz + me pair {slowest:.3f}s")
        assert counter(exposition, "headers") == 500
        assert counter(exposition, "body") == 500
    finally:
        stop_trickle.set()
        for sock in slow:
            sock.close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.stop, 10)


async def test_connections_past_the_limit_are_closed_at_once_and_logged(database, tmp_path):
    # given: a limit of 20 connections, all held by idle clients
    port = servers.free_port()
    env = servers.base_env(database, port, APP_ENV="test", MAX_CONNECTIONS_PER_WORKER="20")
    running = await asyncio.to_thread(servers.start, env, tmp_path / "server.log")
    held: list[socket.socket] = []
    try:
        held += open_slow(port, 20, b"")
        # when: one more
        extra = open_slow(port, 1, b"")[0]
        held.append(extra)
        # then: closed at once, and the log says why
        assert closed_by_server(extra, 2.0)
        for sock in held[:20]:
            sock.close()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=running.url, timeout=2) as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        for sock in held:
            sock.close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(running.stop, 10)
    assert "connection limit reached" in running.log()
    assert "MAX_CONNECTIONS_PER_WORKER" in running.log()
