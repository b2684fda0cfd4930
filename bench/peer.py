"""phonegate beside a peer: ``uv run --group bench bench/peer.py [--quick] [--workers N]``.

In one run, on this machine, the same closed-loop register and login load (same client,
connections and durations) goes to phonegate (signup, login) and to a minimal
fastapi-users app (bench/peer_app.py: /auth/register, /auth/jwt/login) with the same
argon2id parameters, the same number of worker processes and PostgreSQL. Prints a table,
then on its last line one JSON object with each rate, the ratio phonegate / fastapi-users,
and each rate against the argon2id bound measured in the same run (``of_bound``).

What differs is what each does per request: phonegate's signup also checks the password's
strength, counts four rate limits in Redis and queues an SMS that its outbox sends to a
Twilio double; its login counts limits and opens a session with a refresh token. The
peer's register and login do neither.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import loadgen
import run as phonegate_bench
import servers
from loadgen import Connection, Job, Phase
from twilio_double import TwilioDouble

HERE = Path(__file__).resolve().parent


def register_jobs(accounts: list[tuple[str, str]]) -> Callable[[], Job | None]:
    prefix = secrets.token_hex(4)
    counter = iter(range(10**9))

    def next_job() -> Job | None:
        email = f"u{next(counter)}-{prefix}@example.com"
        password = phonegate_bench.password()

        async def job(conn: Connection) -> tuple[bool, str]:
            body = json.dumps({"email": email, "password": password}).encode()
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
def peer_server(database_url: str, workers: int, log_path: Path) -> Iterator[int]:
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
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
        yield port
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


async def measure_peer(args: argparse.Namespace, port: int) -> tuple[Phase, Phase]:
    d = 0.6 if args.quick else 3.0
    accounts: list[tuple[str, str]] = []
    await loadgen.closed_loop("warm-up", "127.0.0.1", port, 4, 1.5, register_jobs(accounts))
    register = await loadgen.closed_loop(
        "fastapi-users register", "127.0.0.1", port, 16, 5 * d, register_jobs(accounts)
    )
    login = await loadgen.closed_loop(
        "fastapi-users login", "127.0.0.1", port, 16, 4 * d, login_jobs(accounts)
    )
    return register, login


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limits", default=servers.REDIS_URL)
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="phonegate-peer-") as tmp:
        folder = Path(tmp)
        with servers.postgres_database("phonegate_peer_a") as ours:
            signup, login = asyncio.run(measure_phonegate(args, ours, folder))
        with (
            servers.postgres_database("phonegate_peer_b") as theirs,
            peer_server(theirs, args.workers, folder / "peer.log") as port,
        ):
            register, peer_login = asyncio.run(measure_peer(args, port))
    # The ceiling both are held against, in the same run: argon2id hashes/s of as many
    # plain processes as workers, with the same parameters.
    bound = phonegate_bench.argon2_bound(
        args.workers, 1.2 if args.quick else 3.0, phonegate_bench.Settings()
    )
    phonegate_bench.print_table([signup, register, login, peer_login])
    result: dict[str, Any] = {
        "phonegate_signup_rps": round(signup.rps, 1),
        "fastapi_users_register_rps": round(register.rps, 1),
        "register_ratio": round(signup.rps / register.rps, 3) if register.rps else None,
        "phonegate_login_rps": round(login.rps, 1),
        "fastapi_users_login_rps": round(peer_login.rps, 1),
        "login_ratio": round(login.rps / peer_login.rps, 3) if peer_login.rps else None,
        "argon2_bound_rps": round(bound, 1),
        "of_bound": {
            name: round(phase.rps / bound, 3) if bound else None
            for name, phase in (
                ("phonegate_signup", signup),
                ("fastapi_users_register", register),
                ("phonegate_login", login),
                ("fastapi_users_login", peer_login),
            )
        },
        "workers": args.workers,
        "machine": {**phonegate_bench.machine(), "loadavg_1m_at_start": load_before},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
