"""The load side: a small HTTP/1.1 keep-alive client on asyncio streams and closed-loop
drivers. Kept lean on purpose: it shares the machine's cores with the server it measures.
Every loop is bounded by a deadline and by a maximum count."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_REQUESTS_PER_PHASE = 2_000_000


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: str = "",
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = f"Authorization: Bearer {token}\r\n" if token else ""
        status, payload = await self.request("POST", "/graphql", body, headers)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        data: dict[str, Any] = json.loads(payload)
        return data


@dataclass
class Phase:
    """What one closed-loop phase saw."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of successes, in seconds
    outcomes: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0  # CPU seconds the server's workers used during the phase
    # CPU seconds of everything else on the machine that the phase kept busy: PostgreSQL's
    # processes, Redis, and this load process (which also plays Twilio).
    other_cpu: dict[str, float] = field(default_factory=dict)
    # The steady window: from the first answer to the deadline, and the successes in it.
    # Dividing all successes by the whole phase would charge the ramp-up and the drain of
    # the requests still in flight at the deadline: with 16 clients and answers taking
    # 0.6 s, a 1.6 s phase would show 30% less than the server's rate.
    window: float = 0.0
    in_window: int = 0

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        if self.window > 0 and self.in_window:
            return self.in_window / self.window
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """In milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


# A job runs one request on a connection and says whether it succeeded (and what it got).
Job = Callable[[Connection], Awaitable[tuple[bool, str]]]


async def closed_loop(
    name: str,
    host: str,
    port: int,
    connections: int,
    seconds: float,
    next_job: Callable[[], Job | None],
    *,
    max_requests: int = MAX_REQUESTS_PER_PHASE,
) -> Phase:
    """``connections`` clients, each sending its next request as soon as the last answered,
    until ``seconds`` pass, ``max_requests`` were sent or ``next_job`` has no more work."""
    phase = Phase(name)
    conns = [await Connection(host, port).open() for _ in range(connections)]
    started = time.perf_counter()
    deadline = started + seconds
    sent = 0
    answered: list[float] = []  # when each success came back

    async def client(conn: Connection) -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            job = next_job()
            if job is None:
                return
            sent += 1
            t0 = time.perf_counter()
            try:
                ok, outcome = await job(conn)
            except Exception as e:  # a failed request is counted, never fatal
                ok, outcome = False, type(e).__name__
                await conn.close()
                await conn.open()
            if ok:
                answered.append(time.perf_counter())
                phase.latencies.append(answered[-1] - t0)
            phase.count(outcome)

    await asyncio.gather(*(client(c) for c in conns))
    phase.seconds = time.perf_counter() - started
    end = min(deadline, max(answered, default=deadline))  # the work may run out early
    if answered and end > answered[0]:
        phase.window = end - answered[0]
        phase.in_window = sum(1 for t in answered[1:] if t <= end)
    for conn in conns:
        await conn.close()
    return phase


async def paced(
    name: str,
    host: str,
    port: int,
    connections: int,
    interval: float,
    stop: asyncio.Event,
    job: Job,
) -> Phase:
    """``connections`` clients each sending one request every ``interval`` seconds (or
    right after the last answered, if that took longer) until ``stop`` is set."""
    phase = Phase(name)
    conns = [await Connection(host, port).open() for _ in range(connections)]
    started = time.perf_counter()

    async def client(conn: Connection, offset: float) -> None:
        await asyncio.sleep(offset)
        for _ in range(MAX_REQUESTS_PER_PHASE):
            if stop.is_set():
                return
            t0 = time.perf_counter()
            ok, outcome = await job(conn)
            elapsed = time.perf_counter() - t0
            if ok:
                phase.latencies.append(elapsed)
            phase.count(outcome)
            await asyncio.sleep(max(0.0, interval - elapsed))

    await asyncio.gather(*(client(c, i * interval / connections) for i, c in enumerate(conns)))
    phase.seconds = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    return phase
