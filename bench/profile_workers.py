"""Where a server's CPU per request goes, phonegate's and the peer's:
``uv run --group bench bench/profile_workers.py [--quick] [--out DIR] [--only phonegate|peer]``.

bench/peer.py's run (same workers, settings, PostgreSQL, Redis, Twilio doubles), with
cProfile in every uvicorn worker during the measured phases only (phonegate signup and
login, the peer's register and login): a ``sitecustomize`` on PYTHONPATH gives each
spawned worker a profiler that SIGUSR1 starts and SIGUSR2 stops and dumps. The profiler's
clock is the thread's CPU time of the worker's main thread (the event loop): the argon2id
threads of phonegate's pool are not in it (the peer hashes on its event loop, so its hash
is). Prints per phase the worker CPU per request (all threads, and the main thread's share)
and the top functions by own and by cumulative time; the .prof files stay in --out.
Profiling slows the servers: read the shares, not the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import pstats
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import loadgen
import peer
import servers

HOOK = """
import os, signal
def _install():
    out = os.environ.get("BENCH_PROFILE_DIR")
    try:
        cmd = open("/proc/self/cmdline", "rb").read()
    except OSError:
        return
    if not out or b"spawn_main" not in cmd:
        return
    import cProfile, time
    state = {}
    def start(*_):
        state["p"] = cProfile.Profile(time.thread_time)
        state["cpu"] = time.process_time()
        state["p"].enable()
    def stop(*_):
        p = state.pop("p", None)
        if p is None:
            return
        p.disable()
        cpu = time.process_time() - state["cpu"]
        name = os.path.join(out, f"{os.getpid()}")
        p.dump_stats(name + ".prof.part")
        with open(name + ".cpu.part", "w") as f:
            f.write(repr(cpu))
        os.rename(name + ".prof.part", name + ".prof")
        os.rename(name + ".cpu.part", name + ".cpu")
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
_install()
"""

MEASURED = {
    "phonegate signup",
    "phonegate login",
    "fastapi-users register",
    "fastapi-users login",
}


def workers(token: str) -> list[int]:
    """The uvicorn workers started by this run (their environment carries our token)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if b"spawn_main" not in (entry / "cmdline").read_bytes():
                continue
            if f"BENCH_PROFILE_TOKEN={token}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


def profiled(original: Any, out: Path, token: str, results: dict[str, Any]) -> Any:
    async def closed_loop(name: str, *args: Any, **kwargs: Any) -> loadgen.Phase:
        if name not in MEASURED:
            return await original(name, *args, **kwargs)
        pids = workers(token)
        for pid in pids:
            os.kill(pid, signal.SIGUSR1)
        result = await original(name, *args, **kwargs)
        for pid in pids:
            os.kill(pid, signal.SIGUSR2)
        folder = out / name.replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + 30
        for pid in pids:
            # a file that another process writes: nothing to wait on but the file
            while not (out / f"{pid}.cpu").exists() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            for suffix in (".prof", ".cpu"):
                with contextlib.suppress(FileNotFoundError):
                    (out / f"{pid}{suffix}").rename(folder / f"{pid}{suffix}")
        results[name] = (result, folder)
        return result

    return closed_loop


def report(name: str, phase: loadgen.Phase, folder: Path, top: int) -> None:
    profiles = sorted(str(p) for p in folder.glob("*.prof"))
    if not profiles or not phase.ok:
        print(f"== {name}: no profile or no success")
        return
    cpu = sum(float(p.read_text()) for p in folder.glob("*.cpu"))
    stats = pstats.Stats(*profiles, stream=io.StringIO())
    main_thread = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"== {name}: {phase.ok} ok; worker CPU {cpu * 1000 / phase.ok:.2f} ms/request, "
        f"event-loop thread {main_thread * 1000 / phase.ok:.2f} ms/request (profiled)"
    )
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
        lines = buffer.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"-- by {order}")
        print("\n".join(lines[start:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limits", default=servers.REDIS_URL)
    parser.add_argument("--only", choices=("phonegate", "peer"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="phonegate-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    hook = out / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    token = secrets.token_hex(6)
    os.environ["BENCH_PROFILE_DIR"] = str(out)
    os.environ["BENCH_PROFILE_TOKEN"] = token
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(hook), os.environ.get("PYTHONPATH")) if p
    )
    results: dict[str, Any] = {}
    loadgen.closed_loop = profiled(loadgen.closed_loop, out, token, results)
    peer.loadgen.closed_loop = loadgen.closed_loop
    peer.phonegate_bench.loadgen.closed_loop = loadgen.closed_loop
    for who, measure in (("phonegate", peer.measure_phonegate), ("peer", peer.measure_peer)):
        if args.only and args.only != who:
            continue
        with servers.postgres_database(f"phonegate_profile_{who}") as url:
            asyncio.run(measure(args, url, out))
    for name, (phase, folder) in results.items():
        report(name, phase, folder, args.top)
    print(f"profiles in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
