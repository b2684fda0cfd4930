"""phonegate beside a fair peer:
``uv run --group bench bench/peer.py [--quick] [--rounds N] [--workers N]``.

In one run, on this machine, the same closed-loop register and login load (same client,
connections and durations) goes to phonegate (signup, login) and to the peer
(bench/peer_app.py: fastapi-users with a phone field, a hashed six-digit code in a table
and the code sent by SMS through the Twilio SDK in ``on_after_register``; its own JWT
login), with the same argon2id parameters, the same number of worker processes, the same
PostgreSQL and each its own Twilio double. ``--rounds`` (default 3) alternates the two
servers, phonegate first in odd rounds and the peer first in even ones, so that a noisy
neighbour costs both alike. Prints a table per round, each round's ratios, then on its
last line one JSON object with the medians of the rounds (``register_ratio`` and
``login_ratio`` are phonegate / peer) and each rate against the argon2id bound.

What still differs: phonegate's signup also checks the password's strength, counts its
rate limits in Redis and queues the SMS in an outbox that its worker sends after commit
(crash- and outage-safe); its login counts limits and opens a session with a refresh
token. The peer sends its SMS inside the register request and does none of the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import loadgen
import run as phonegate_bench
import servers
from loadgen import Connection, Job, Phase
from twilio_double import TwilioDouble

HERE = Path(__file__).resolve().parent


def register_jobs(
    accounts: list[tuple[str, str]], phones: Iterator[str]
) -> Callable[[], Job | None]:
    prefix = secrets.token_hex(4)
    counter = iter(range(10**9))

    def next_job() -> Job | None:
        email = f"u{next(counter)}-{prefix}@example.com"
        password = phonegate_bench.password()
        phone = next(phones)

        async def job(conn: Connection) -> tuple[bool, str]:
            body = json.dumps({"email": email, "password": password, "phone": phone}).encode()
            status, _ = await conn.request("POST", "/auth/register", body)
            if status == 201:
                accounts.append((email, password))
            return status == 201, str(status)

        return job

    return next_job


def login_jobs(accounts: list[tuple[str, str]]) -> Callable[[], Job | None]:
    position = iter(range(10**9))

    def next_job() -> Job | None:
        if not accounts:
            return None
        email, password = accounts[next(position) % len(accounts)]

        async def job(conn: Connection) -> tuple[bool, str]:
            form = urlencode({"username": email, "password": password}).encode()
            status, _ = await conn.request(
                "POST",
                "/auth/jwt/login",
                form,
                content_type="application/x-www-form-urlencoded",
            )
            return status == 200, str(status)

        return job

    return next_job


@contextlib.contextmanager
def peer_server(
    database_url: str, workers: int, log_path: Path, twilio: dict[str, str]
) -> Iterator[tuple[int, list[int]]]:
    """The peer's port and the pids of its uvicorn workers (whose CPU each phase counts)."""
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    env.update(twilio)
    env["PEER_DATABASE_URL"] = database_url.replace("postgres://", "postgresql+asyncpg://", 1)
    subprocess.run(
        [sys.executable, "peer_app.py", "create"], cwd=HERE, env=env, check=True, timeout=60
    )
    port = servers.free_port()
    command = [sys.executable, "-m", "uvicorn", "peer_app:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    with log_path.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, urllib.error.URLError):
                url = f"http://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"peer did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        family = servers.descendants(process.pid)
        yield port, [p for p in family if b"spawn_main" in servers._cmdline(p)] or family
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


async def measure_phonegate(
    args: argparse.Namespace, database_url: str, folder: Path
) -> tuple[Phase, Phase]:
    d = 0.6 if args.quick else 3.0
    double = await TwilioDouble().start()
    port = servers.free_port()
    env = phonegate_bench.server_env(args, database_url, port, double)
    env["UV_PROJECT_ENVIRONMENT"] = await asyncio.to_thread(servers.production_environment)
    server = await asyncio.to_thread(servers.start, env, folder / "phonegate.log")
    try:
        run = phonegate_bench.Run(
            "127.0.0.1", port, double, phonegate_bench.unique_phones(10**6), server.pids()
        )
        await phonegate_bench.warm_up(run)
        signup = await phonegate_bench.phase(
            run, "phonegate signup", 5 * d, 16, phonegate_bench.signup_jobs(run)
        )
        codes = await phonegate_bench.collect_codes(run, 15)
        await phonegate_bench.phase(
            run, "(verify, untimed)", 30, 32, phonegate_bench.verify_jobs(run, codes)
        )
        login = await phonegate_bench.phase(
            run,
            "phonegate login",
            4 * d,
            16,
            phonegate_bench.cycling(run, phonegate_bench.login_job),
        )
    finally:
        await asyncio.to_thread(server.stop)
        await double.stop()
    return signup, login


async def measure_peer(
    args: argparse.Namespace, database_url: str, folder: Path
) -> tuple[Phase, Phase]:
    d = 0.6 if args.quick else 3.0
    double = await TwilioDouble().start()
    accounts: list[tuple[str, str]] = []
    phones = phonegate_bench.unique_phones(10**6)
    server = peer_server(database_url, args.workers, folder / "peer.log", double.settings())
    port, pids = await asyncio.to_thread(server.__enter__)
    try:
        await loadgen.closed_loop(
            "warm-up", "127.0.0.1", port, 4, 1.5, register_jobs(accounts, phones)
        )
        register = await counted(
            pids,
            loadgen.closed_loop(
                "fastapi-users register",
                "127.0.0.1",
                port,
                16,
                5 * d,
                register_jobs(accounts, phones),
            ),
        )
        if len(double.messages) < len(accounts):  # the hook sends before register answers
            raise RuntimeError(f"{len(double.messages)} SMS for {len(accounts)} registrations")
        login = await counted(
            pids,
            loadgen.closed_loop(
                "fastapi-users login", "127.0.0.1", port, 16, 4 * d, login_jobs(accounts)
            ),
        )
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
        await double.stop()
    return register, login


async def counted(pids: list[int], phase: Coroutine[Any, Any, Phase]) -> Phase:
    """The phase, with the CPU its server's workers and the machine's other parts used
    (counted as bench/run.py counts phonegate's)."""
    before, others = phonegate_bench.cpu_seconds(pids), phonegate_bench.other_cpu()
    result = await phase
    result.server_cpu = phonegate_bench.cpu_seconds(pids) - before
    after = phonegate_bench.other_cpu()
    result.other_cpu = {k: v - others.get(k, 0.0) for k, v in after.items()}
    return result


def cpu_ratio(peer: Phase, ours: Phase) -> float | None:
    """The peer's server CPU per success over ours: above 1, ours does the job for less CPU
    (what decides the rate when the cores are the limit, and less moved by the machine's
    other load than the rate itself)."""
    if not (peer.ok and ours.ok and ours.server_cpu):
        return None
    return round((peer.server_cpu / peer.ok) / (ours.server_cpu / ours.ok), 3)


def one_round(args: argparse.Namespace, folder: Path, index: int) -> dict[str, Phase]:
    """Both servers once, on fresh databases; the peer first in even rounds."""

    def ours() -> tuple[Phase, Phase]:
        with servers.postgres_database(f"phonegate_peer_a{index}") as url:
            return asyncio.run(measure_phonegate(args, url, folder))

    def theirs() -> tuple[Phase, Phase]:
        with servers.postgres_database(f"phonegate_peer_b{index}") as url:
            return asyncio.run(measure_peer(args, url, folder))

    if index % 2:
        (signup, login), (register, peer_login) = ours(), theirs()
    else:
        (register, peer_login), (signup, login) = theirs(), ours()
    phonegate_bench.print_table([signup, register, login, peer_login])
    return {"signup": signup, "register": register, "login": login, "peer_login": peer_login}


def ratio(a: Phase, b: Phase) -> float | None:
    return round(a.rps / b.rps, 3) if b.rps else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limits", default=servers.REDIS_URL)
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 2)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="phonegate-peer-") as tmp:
        for index in range(1, args.rounds + 1):
            phases = one_round(args, Path(tmp), index)
            rounds.append(phases)
            print(
                f"round {index}: signup/register "
                f"{ratio(phases['signup'], phases['register'])}, "
                f"login/login {ratio(phases['login'], phases['peer_login'])}; CPU per "
                f"request, peer/ours: register/signup "
                f"{cpu_ratio(phases['register'], phases['signup'])}, login "
                f"{cpu_ratio(phases['peer_login'], phases['login'])}",
                flush=True,
            )
    # The ceiling both are held against, in the same run: argon2id hashes/s of as many
    # plain processes as workers, with the same parameters.
    bound = phonegate_bench.argon2_bound(
        args.workers, 1.2 if args.quick else 3.0, phonegate_bench.Settings()
    )

    def median(name: str) -> float:
        return statistics.median(r[name].rps for r in rounds)

    register_ratios = [ratio(r["signup"], r["register"]) for r in rounds]
    login_ratios = [ratio(r["login"], r["peer_login"]) for r in rounds]
    result: dict[str, Any] = {
        "rounds": args.rounds,
        "register_ratios": register_ratios,
        "login_ratios": login_ratios,
        "register_ratio": statistics.median(x for x in register_ratios if x is not None),
        "cpu_ratios": {
            "register_over_signup": [cpu_ratio(r["register"], r["signup"]) for r in rounds],
            "login_over_login": [cpu_ratio(r["peer_login"], r["login"]) for r in rounds],
        },
        "server_cpu_ms_per_request_median": {
            name: round(
                statistics.median(r[name].server_cpu * 1000 / r[name].ok for r in rounds), 2
            )
            for name in ("signup", "register", "login", "peer_login")
            if all(r[name].ok for r in rounds)
        },
        "login_ratio": statistics.median(x for x in login_ratios if x is not None),
        "phonegate_signup_rps": round(median("signup"), 1),
        "fastapi_users_register_rps": round(median("register"), 1),
        "phonegate_login_rps": round(median("login"), 1),
        "fastapi_users_login_rps": round(median("peer_login"), 1),
        "argon2_bound_rps": round(bound, 1),
        "of_bound": {
            name: round(median(key) / bound, 3) if bound else None
            for name, key in (
                ("phonegate_signup", "signup"),
                ("fastapi_users_register", "register"),
                ("phonegate_login", "login"),
                ("fastapi_users_login", "peer_login"),
            )
        },
        "workers": args.workers,
        "machine": {**phonegate_bench.machine(), "loadavg_1m_at_start": load_before},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
