"""phonegate's benchmark: ``uv run bench/run.py [--quick] [--db sqlite|postgres] [--workers N]``.

Starts the server as a user would (``uv run main.py migrate`` then ``uv run main.py`` in
production mode with WEB_CONCURRENCY=N, PostgreSQL or SQLite, Redis rate limits, the
Twilio SMS backend pointed at a Twilio double in this process), drives it from this
separate process over loopback, prints a table and, on its last line, one JSON object.

Figures (all measured in this run, on this machine):
  hello_rps          ``{ __typename }``: the cost of the HTTP + GraphQL path alone
  argon2_bound_rps   argon2id hashes/s that N plain processes reach outside the server,
                     same parameters: the ceiling for signup and login (the mean of two
                     measurements, before the signup and the login phases)
  signup/login/verify/me/request_reset_rps   closed loop, each against the same server
  *_ratio            signup and login against argon2_bound_rps, verify against hello_rps
  me_p99_ms_under_signup_load   p99 of paced ``me`` requests while signups saturate hashing
  twilio_delay_added_ms   median signup latency with a Twilio double answering after 2 s,
                     minus with one answering at once (SMS leave off the request path)
  rss_mb_idle        resident memory of the largest worker, idle 6 s after the load
                     (rss_mb_start: the same right after start-up)
  server_cpu_ms_per_request / other_cpu_ms_per_request   where each phase's cores went:
                     the server's workers; PostgreSQL, Redis and this load process
Rate limits are raised for the bench server (RATE_LIMITS) and the resend cooldown is 0 so
one phone can ask for reset codes repeatedly; every other setting is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import loadgen
import phonenumbers
import servers
from loadgen import Connection, Job, Phase
from twilio_double import TwilioDouble

sys.path.insert(0, str(servers.ROOT))
from core.settings import Settings  # the server's own defaults

HELLO = "{ __typename }"
SIGNUP = (
    "mutation S($i: SignupInput!) { signup(input: $i) { __typename "
    "... on VerificationSent { challenge } } }"
)
VERIFY = (
    "mutation V($i: VerifyPhoneInput!) { verifyPhone(input: $i) { __typename "
    "... on Session { accessToken } } }"
)
LOGIN = (
    "mutation L($i: LoginInput!) { login(input: $i) { __typename ... on Session { accessToken } } }"
)
ME = "query Me { me { id phone username isVerified } }"
REQUEST_RESET = "mutation R($p: String!) { requestReset(phone: $p) { __typename } }"
AREAS = ("415", "650", "212", "617", "303", "512", "206", "312", "404", "702")


@dataclass
class Account:
    phone: str
    password: str
    token: str = ""
    challenge: str = ""  # the signup's, which its code is bound to


@dataclass
class Run:
    host: str
    port: int
    double: TwilioDouble
    phones: Iterator[str]
    pids: list[int] = field(default_factory=list)
    pending: list[Account] = field(default_factory=list)
    verified: list[Account] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)


def unique_phones(count: int) -> Iterator[str]:
    seen: set[str] = set()
    rng = random.Random(secrets.randbits(64))  # noqa: S311 - test data, not a secret
    while len(seen) < count:
        candidate = f"+1{rng.choice(AREAS)}{rng.randint(2_000_000, 9_999_999)}"
        if candidate not in seen and phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            seen.add(candidate)
            yield candidate


def password() -> str:
    """A 12-character random password, as a password manager makes."""
    return secrets.token_urlsafe(9)


# --- jobs -------------------------------------------------------------------------------


def typename(data: dict[str, Any]) -> str:
    if data.get("errors"):
        return "errors"
    (value,) = data["data"].values()
    return str(value["__typename"]) if isinstance(value, dict) else "null"


def hello_job() -> Job:
    async def job(conn: Connection) -> tuple[bool, str]:
        data = await conn.graphql(HELLO)
        return data.get("data") == {"__typename": "Query"}, "Query"

    return job


def signup_jobs(run: Run) -> Callable[[], Job | None]:
    def next_job() -> Job | None:
        account = Account(next(run.phones), password())

        async def job(conn: Connection) -> tuple[bool, str]:
            data = await conn.graphql(
                SIGNUP, {"i": {"phone": account.phone, "password": account.password}}
            )
            kind = typename(data)
            if kind == "VerificationSent":
                account.challenge = data["data"]["signup"]["challenge"]
                run.pending.append(account)
            return kind == "VerificationSent", kind

        return job

    return next_job


def verify_jobs(
    run: Run, codes: dict[str, str], limit: int | None = None
) -> Callable[[], Job | None]:
    queue = [a for a in run.pending if a.phone in codes][:limit]
    taken = {a.phone for a in queue}
    run.pending = [a for a in run.pending if a.phone not in taken]

    def next_job() -> Job | None:
        if not queue:
            return None
        account = queue.pop()

        async def job(conn: Connection) -> tuple[bool, str]:
            code = codes[account.phone]
            variables = {
                "i": {"phone": account.phone, "code": code, "challenge": account.challenge}
            }
            data = await conn.graphql(VERIFY, variables)
            kind = typename(data)
            if kind == "Session":
                account.token = data["data"]["verifyPhone"]["accessToken"]
                run.verified.append(account)
            return kind == "Session", kind

        return job

    return next_job


def cycling(run: Run, make: Callable[[Account], Job]) -> Callable[[], Job | None]:
    accounts = list(run.verified)
    random.shuffle(accounts)
    position = 0

    def next_job() -> Job | None:
        nonlocal position
        if not accounts:
            return None
        account = accounts[position % len(accounts)]
        position += 1
        return make(account)

    return next_job


def login_job(account: Account) -> Job:
    async def job(conn: Connection) -> tuple[bool, str]:
        variables = {"i": {"identifier": account.phone, "password": account.password}}
        kind = typename(await conn.graphql(LOGIN, variables))
        return kind == "Session", kind

    return job


def me_job(account: Account) -> Job:
    async def job(conn: Connection) -> tuple[bool, str]:
        data = await conn.graphql(ME, token=account.token)
        me = (data.get("data") or {}).get("me")
        ok = isinstance(me, dict) and me.get("phone") == account.phone
        return ok, "User" if ok else "null"

    return job


def reset_job(account: Account) -> Job:
    async def job(conn: Connection) -> tuple[bool, str]:
        kind = typename(await conn.graphql(REQUEST_RESET, {"p": account.phone}))
        return kind == "ResetCodeSent", kind

    return job


# --- phases -----------------------------------------------------------------------------


async def settle(run: Run, quiet: float = 0.25, within: float = 10.0) -> None:
    """Wait until the outbox has sent what earlier phases queued (no SMS for ``quiet``
    seconds), so that a phase is not charged for the last one's messages."""
    deadline = time.monotonic() + within
    seen = -1
    while time.monotonic() < deadline and len(run.double.messages) != seen:
        seen = len(run.double.messages)
        await asyncio.sleep(quiet)


async def phase(
    run: Run, name: str, seconds: float, connections: int, next_job: Callable[[], Job | None]
) -> Phase:
    await settle(run)
    before, others = cpu_seconds(run.pids), other_cpu()
    result = await loadgen.closed_loop(name, run.host, run.port, connections, seconds, next_job)
    result.server_cpu = cpu_seconds(run.pids) - before
    result.other_cpu = {k: v - others.get(k, 0.0) for k, v in other_cpu().items()}
    run.phases.append(result)
    return result


def other_cpu() -> dict[str, float]:
    """CPU seconds so far of the machine's other parts in the request path: PostgreSQL
    (every process of its server), Redis, and this process (the load and the Twilio
    double). Where the cores go, beside the server's own workers."""
    pids: dict[str, list[int]] = {"postgres": [], "redis": []}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm == "postgres":
                pids["postgres"].append(int(entry.name))
            elif comm.startswith("redis-server"):
                pids["redis"].append(int(entry.name))
    return {
        "postgres": cpu_seconds(pids["postgres"]),
        "redis": cpu_seconds(pids["redis"]),
        "bench": time.process_time(),
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the server's workers used so far (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def collect_codes(run: Run, within: float) -> dict[str, str]:
    """The codes of every pending signup, read from the double as the outbox sends them."""
    deadline = time.monotonic() + within
    while True:
        codes = {a.phone: c for a in run.pending if (c := run.double.code(a.phone))}
        if len(codes) == len(run.pending) or time.monotonic() > deadline:
            return codes
        await asyncio.sleep(0.1)


async def me_under_signup_load(run: Run, seconds: float, connections: int) -> Phase:
    stop = asyncio.Event()
    probe = run.verified[0]
    me_task = asyncio.create_task(
        loadgen.paced("me under signup load", run.host, run.port, 2, 0.02, stop, me_job(probe))
    )
    await asyncio.sleep(0.2)
    await phase(run, "signup (while me is paced)", seconds, connections, signup_jobs(run))
    stop.set()
    result = await me_task
    run.phases.append(result)
    return result


async def twilio_delay_added(run: Run, seconds: float, rounds: int = 4) -> tuple[Phase, Phase]:
    """Signup latency with the double answering at once and after 2 s, in alternating
    short rounds so that a change in the machine's other load hits both alike."""
    merged = {
        0.0: Phase("signup, Twilio answers at once"),
        2.0: Phase("signup, Twilio answers in 2 s"),
    }
    for _ in range(rounds):
        for delay, total in merged.items():
            run.double.delay_seconds = delay
            await asyncio.sleep(0.2)
            before = cpu_seconds(run.pids)
            part = await loadgen.closed_loop(
                total.name, run.host, run.port, 4, seconds / rounds, signup_jobs(run)
            )
            total.server_cpu += cpu_seconds(run.pids) - before
            total.seconds += part.seconds
            total.latencies += part.latencies
            for outcome, count in part.outcomes.items():
                total.outcomes[outcome] = total.outcomes.get(outcome, 0) + count
    run.double.delay_seconds = 0.0
    run.phases += merged.values()
    return merged[0.0], merged[2.0]


async def warm_up(run: Run) -> None:
    """A few signups and their SMS first, so that one-time costs (lazy imports in the
    Twilio SDK, connection pools, statement caches) fall outside the measured phases."""
    await loadgen.closed_loop("warm-up", run.host, run.port, 4, 1.5, signup_jobs(run))
    await collect_codes(run, 10)
    run.pending.clear()


def _hash_loop(seconds: float, memory_kib: int, time_cost: int, parallelism: int) -> int:
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )
    hasher.hash("warm up")
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        hasher.hash(password())
        count += 1
    return count


def argon2_bound(processes: int, seconds: float, defaults: Settings) -> float:
    """Hashes per second that ``processes`` plain processes reach, with the server's
    parameters (each process hashes in a loop; the server is idle meanwhile)."""
    params = (seconds, defaults.argon2_memory_kib, defaults.argon2_time_cost)
    params_full = (*params, defaults.argon2_parallelism)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        counts = pool.starmap(_hash_loop, [params_full] * processes)
    return sum(counts) / seconds


# --- the run ----------------------------------------------------------------------------


async def drive(args: argparse.Namespace, run: Run, server: servers.Server) -> dict[str, Any]:
    started = time.perf_counter()
    d = 0.4 if args.quick else 3.0
    defaults = Settings()
    figures: dict[str, Any] = {}
    await asyncio.sleep(1.0)
    figures["rss_mb_start"] = round(max(servers.rss_mb(p) for p in server.pids()), 1)
    await warm_up(run)

    hello = await phase(run, "hello { __typename }", 3 * d, 32, lambda: hello_job())
    # The ceiling is measured twice, right before the signup and the login phases, and
    # averaged: one short measurement moved by 15% from run to run on a shared machine.
    bounds = [argon2_bound(args.workers, 3 * d, defaults)]
    signup = await phase(run, "signup", 5 * d, 16, signup_jobs(run))
    codes = await collect_codes(run, 10)
    await phase(run, "(verify a few, for tokens)", 30, 4, verify_jobs(run, codes, limit=8))
    under = await me_under_signup_load(run, 4 * d, 16)
    instant, delayed = await twilio_delay_added(run, 4 * d)
    # Every signup so far is verified in one phase: enough requests for a steady rate.
    codes = await collect_codes(run, 10)
    verify = await phase(run, "verifyPhone", 5 * d, 32, verify_jobs(run, codes))
    bounds.append(argon2_bound(args.workers, 3 * d, defaults))
    bound = statistics.fmean(bounds)
    login = await phase(run, "login", 4 * d, 16, cycling(run, login_job))
    me = await phase(run, "me", 3 * d, 32, cycling(run, me_job))
    reset = await phase(run, "requestReset", 3 * d, 32, cycling(run, reset_job))
    await asyncio.sleep(6.0)  # idle: one housekeeping pass (5 s) returns freed memory
    figures["rss_mb_idle"] = round(max(servers.rss_mb(p) for p in server.pids()), 1)

    figures.update(
        hello_rps=round(hello.rps, 1),
        argon2_bound_rps=round(bound, 1),
        argon2_bound_rps_each=[round(b, 1) for b in bounds],
        signup_rps=round(signup.rps, 1),
        login_rps=round(login.rps, 1),
        verify_rps=round(verify.rps, 1),
        me_rps=round(me.rps, 1),
        request_reset_rps=round(reset.rps, 1),
        signup_ratio=round(signup.rps / bound, 3) if bound else None,
        login_ratio=round(login.rps / bound, 3) if bound else None,
        verify_ratio=round(verify.rps / hello.rps, 3) if hello.rps else None,
        me_p99_ms_under_signup_load=round(under.percentile(99), 1),
        me_p50_ms_under_signup_load=round(under.percentile(50), 1),
        twilio_delay_added_ms=round(
            statistics.median(delayed.latencies) * 1000
            - statistics.median(instant.latencies) * 1000,
            1,
        ),
        signup_p50_ms=round(instant.percentile(50), 1),
        drive_seconds=round(time.perf_counter() - started, 1),
        server_cpu_ms_per_request={
            p.name: round(p.server_cpu * 1000 / p.ok, 2)
            for p in (hello, signup, verify, login, me, reset)
            if p.ok
        },
        other_cpu_ms_per_request={
            p.name: {k: round(v * 1000 / p.ok, 2) for k, v in p.other_cpu.items()}
            for p in (hello, signup, verify, login, me, reset)
            if p.ok
        },
        verify_requests=verify.ok,
        sms_received=len(run.double.messages),
        argon2={
            "memory_kib": defaults.argon2_memory_kib,
            "time_cost": defaults.argon2_time_cost,
            "parallelism": defaults.argon2_parallelism,
        },
    )
    return figures


def print_table(phases: list[Phase]) -> None:
    print(
        f"{'phase':40} {'ok/s':>9} {'ok':>7} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/ok':>9}"
        f" {'pg ms/ok':>8} {'load ms/ok':>10}  other answers"
    )
    for p in phases:
        other = {k: v for k, v in p.outcomes.items() if k not in ("Query", "User")}
        cpu = f"{p.server_cpu * 1000 / p.ok:9.2f}" if p.ok and p.server_cpu else f"{'':9}"
        pg = f"{p.other_cpu['postgres'] * 1000 / p.ok:8.2f}" if p.ok and p.other_cpu else " " * 8
        load = f"{p.other_cpu['bench'] * 1000 / p.ok:10.2f}" if p.ok and p.other_cpu else " " * 10
        print(
            f"{p.name:40} {p.rps:9.1f} {p.ok:7d} {p.percentile(50):8.1f} "
            f"{p.percentile(99):8.1f} {cpu} {pg} {load}  {other or ''}"
        )


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def server_env(
    args: argparse.Namespace, database_url: str, port: int, double: TwilioDouble
) -> dict[str, str]:
    """Production settings, but for raised limits, no resend cooldown and the double."""
    return servers.base_env(
        database_url,
        port,
        WEB_CONCURRENCY=str(args.workers),
        RATE_LIMIT_STORAGE=args.limits,
        RATE_LIMITS=servers.OPEN_LIMITS,
        RESEND_COOLDOWN_SECONDS="0",
        **double.settings(),
    )


async def bench(args: argparse.Namespace, database_url: str, folder: Path) -> dict[str, Any]:
    double = await TwilioDouble().start()
    port = servers.free_port()
    env = server_env(args, database_url, port, double)
    env["UV_PROJECT_ENVIRONMENT"] = await asyncio.to_thread(servers.production_environment)
    booted = time.perf_counter()
    server = await asyncio.to_thread(servers.start, env, folder / "server.log")
    start_seconds = round(time.perf_counter() - booted, 1)
    try:
        run = Run("127.0.0.1", port, double, unique_phones(1_000_000), server.pids())
        figures = await drive(args, run, server)
    finally:
        started = time.perf_counter()
        figures_exit = await asyncio.to_thread(server.stop)
        stop_seconds = time.perf_counter() - started
        await double.stop()
    print_table(run.phases)
    figures.update(
        server_exit_code=figures_exit,
        server_start_seconds=start_seconds,
        server_stop_seconds=round(stop_seconds, 2),
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases (under a minute)")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--limits",
        default=servers.REDIS_URL,
        help="RATE_LIMIT_STORAGE for the server (default: Redis db 14)",
    )
    args = parser.parse_args()
    if args.db == "sqlite" and args.workers > 1:
        print(
            "note: SQLite with several worker processes answers some writes 'database is "
            "locked' (masked as errors); the guarantees hold on PostgreSQL",
            file=sys.stderr,
        )
    started = time.perf_counter()
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="phonegate-bench-") as tmp:
        folder = Path(tmp)
        with servers.database(args.db, folder) as database_url:
            figures = asyncio.run(bench(args, database_url, folder))
    result = {
        **figures,
        "db": args.db,
        "workers": args.workers,
        "quick": args.quick,
        "limits": args.limits.split("://")[0],
        "machine": {**machine(), "loadavg_1m_at_start": load_before},
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
