"""Server CPU per request beside the password hash: ``uv run bench/overhead.py [--db ...]``.

The same server as bench/run.py (production settings, Twilio backend pointed at a double,
Redis limits), but one worker and argon2id at 64 KiB / one pass, so that the hash costs
next to nothing and what is left is phonegate's own work per request: HTTP, GraphQL,
limits, SQL, tokens, and the SMS its outbox sends. It is the figure to watch when changing
the request path; bench/run.py's ratios mix it with the hash and the machine's noise.
Prints one JSON object: milliseconds of server CPU per successful request, by operation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import run as bench
import servers
from loadgen import Job
from twilio_double import TwilioDouble

CHEAP_ARGON2 = {"ARGON2_MEMORY_KIB": "64", "ARGON2_TIME_COST": "1"}


async def measure(args: argparse.Namespace, database_url: str, folder: Path) -> dict[str, float]:
    double = await TwilioDouble().start()
    port = servers.free_port()
    options = argparse.Namespace(workers=1, limits=args.limits)
    env = {**bench.server_env(options, database_url, port, double), **CHEAP_ARGON2}
    env["UV_PROJECT_ENVIRONMENT"] = await asyncio.to_thread(servers.production_environment)
    server = await asyncio.to_thread(servers.start, env, folder / "server.log")
    figures: dict[str, float] = {}

    async def per_request(name: str, seconds: float, jobs: Callable[[], Job | None]) -> None:
        done = await bench.phase(run, name, seconds, 16, jobs)
        figures[name] = round(done.server_cpu * 1000 / done.ok, 3) if done.ok else float("nan")

    try:
        run = bench.Run("127.0.0.1", port, double, bench.unique_phones(1_000_000), server.pids())
        await bench.warm_up(run)
        await per_request("hello", 3, lambda: bench.hello_job())
        await per_request("signup", 5, bench.signup_jobs(run))
        codes = await bench.collect_codes(run, 20)
        await per_request("verifyPhone", 30, bench.verify_jobs(run, codes))
        await per_request("login", 4, bench.cycling(run, bench.login_job))
        await per_request("me", 3, bench.cycling(run, bench.me_job))
        await per_request("requestReset", 3, bench.cycling(run, bench.reset_job))
        await bench.settle(run)
    finally:
        await asyncio.to_thread(server.stop)
        await double.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--limits", default=servers.REDIS_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="phonegate-overhead-") as tmp:
        folder = Path(tmp)
        with servers.database(args.db, folder) as database_url:
            figures = asyncio.run(measure(args, database_url, folder))
    print(
        json.dumps(
            {
                "server_cpu_ms_per_request": figures,
                "db": args.db,
                "machine": bench.machine(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
