"""What ``gc.freeze()`` after start-up (the lifespan in server/app.py) buys:
``uv run bench/gc_freeze.py``.

Runs the app in-process (SQLite, cheap argon2 so that the collector's work shows), drives a
mix of signup, verify and ``me`` requests through ASGI, and records every collection with
``gc.callbacks``: how many of each generation and how long they paused the loop. Each
variant runs in a fresh process: "frozen" (as served) and "unfrozen" (gc.unfreeze() right
after start-up). Prints a table, then one JSON line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 3000


def child(frozen: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import httpx

    from core import settings as config
    from server.app import create_app, migrate

    folder = tempfile.mkdtemp(prefix="phonegate-gc-")
    settings = config.load(
        environ={
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite://{folder}/gc.sqlite3",
            "JWT_SECRET": "gc-bench-" + "g" * 40,
            "ARGON2_MEMORY_KIB": "1024",
            "ARGON2_TIME_COST": "1",
            "RATE_LIMITS": "sms_per_client=1000000/minute,sms_per_prefix=1000000/minute,"
            "verify_per_client=1000000/minute,sms_global=1000000/minute",
        }
    )
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    async def run() -> dict[str, Any]:
        await migrate(settings)
        app = create_app(settings)
        latencies: list[float] = []
        async with app.router.lifespan_context(app):
            if not frozen:
                gc.unfreeze()
            frozen_objects = gc.get_freeze_count()
            gc.callbacks.append(on_gc)
            transport = httpx.ASGITransport(app=app, client=("127.9.9.9", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                for i in range(REQUESTS // 3):
                    phone = f"+1415{2000000 + i:07d}"
                    for body in _requests(phone):
                        t0 = time.perf_counter()
                        await http.post("/graphql", json=body)
                        latencies.append(time.perf_counter() - t0)
            gc.callbacks.remove(on_gc)
        latencies.sort()
        return {
            "frozen": frozen,
            "frozen_objects": frozen_objects,
            "collections": {g: len(p) for g, p in pauses.items()},
            "gen2_pause_ms_total": round(sum(pauses[2]) * 1000, 2),
            "gen2_pause_ms_max": round(max(pauses[2], default=0) * 1000, 2),
            "all_pause_ms_total": round(sum(sum(p) for p in pauses.values()) * 1000, 2),
            "request_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
            "requests": len(latencies),
        }

    return asyncio.run(run())


def _requests(phone: str) -> list[dict[str, Any]]:
    signup = "mutation S($i: SignupInput!) { signup(input: $i) { __typename } }"
    resend = "mutation R($p: String!) { resendVerification(phone: $p) { __typename } }"
    return [
        {"query": signup, "variables": {"i": {"phone": phone, "password": "gc bench pw 77"}}},
        {"query": resend, "variables": {"p": phone}},
        {"query": '{ me { id } usernameAvailable(username: "gc_probe") }'},
    ]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2] == "frozen")))
        return 0
    results = []
    for variant in ("frozen", "unfrozen"):
        out = subprocess.run(  # noqa: S603 - this very script
            [sys.executable, __file__, "--child", variant],
            capture_output=True,
            check=True,
            timeout=600,
        )
        results.append(json.loads(out.stdout.decode().strip().splitlines()[-1]))
    print(
        f"{'variant':10} {'frozen objs':>11} {'gen0/1/2':>14} {'gen2 ms':>8} {'max ms':>7} "
        f"{'all ms':>8} {'p99 ms':>7}"
    )
    for r in results:
        c = r["collections"]
        gens = f"{c['0']}/{c['1']}/{c['2']}" if "0" in c else f"{c[0]}/{c[1]}/{c[2]}"
        print(
            f"{'frozen' if r['frozen'] else 'unfrozen':10} {r['frozen_objects']:11d} {gens:>14} "
            f"{r['gen2_pause_ms_total']:8.1f} {r['gen2_pause_ms_max']:7.2f} "
            f"{r['all_pause_ms_total']:8.1f} {r['request_p99_ms']:7.2f}"
        )
    print(json.dumps({"gc_freeze": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
