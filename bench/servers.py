"""Start phonegate as a user would (``uv run main.py``) and look at its processes.

Used by bench/run.py, bench/peer.py and the multi-worker tests. Everything listens on
loopback, on ports picked free; every process started here is stopped here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = os.environ.get(
    "PHONEGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PHONEGATE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
SECRET = "bench-secret-" + "b" * 40


def _limit_names() -> list[str]:
    """Every named rate limit of the server (resolvers/limits.py), as RATE_LIMITS knows it."""
    sys.path.insert(0, str(ROOT))
    try:
        from core.limit_specs import DEFAULTS
    finally:
        sys.path.remove(str(ROOT))
    return sorted(DEFAULTS)


# Limits high enough that a bench or test load from one address is never refused.
OPEN_LIMITS = ",".join(f"{name}=100000000/minute" for name in _limit_names())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``main.py`` serving on 127.0.0.1:port, its output going to ``log_path``."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The processes that serve requests: the spawned workers, or the one process."""
        family = descendants(self.process.pid)
        workers = [p for p in family if b"spawn_main" in _cmdline(p)]
        if workers:
            return workers
        return [p for p in family if b"main.py" in _cmdline(p) and b"python" in _cmdline(p)]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a graceful stop), then SIGKILL past ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in [*descendants(self.process.pid), self.process.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode


@functools.cache
def signing_key_pem() -> str:
    """One ES256 key per run (production needs one), shared by every server started here so
    that a token from one verifies at another."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def base_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PHONEGATE_", "PROMETHEUS_"))
        and k not in ("WEB_CONCURRENCY", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env.update(
        {
            "APP_ENV": "production",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": database_url,
            "JWT_SECRET": SECRET,
            "JWT_PRIVATE_KEY": signing_key_pem(),
            "LOG_FORMAT": "json",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


def production_environment() -> str:
    """A virtual environment with the server's dependencies only (no dev group), made as a
    deployment makes it (``uv sync --frozen --no-dev``); kept while uv.lock is unchanged.
    Pass it to ``uv run`` as UV_PROJECT_ENVIRONMENT."""
    digest = hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"phonegate-production-env-{digest}"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(path)
    done = subprocess.run(
        ["uv", "sync", "--frozen", "--no-dev"],  # noqa: S607 - uv from PATH, as a user runs it
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError((done.stdout + done.stderr).decode(errors="replace"))
    return str(path)


def migrate(env: dict[str, str], command: Sequence[str]) -> None:
    done = subprocess.run(  # noqa: S603 - our own command line
        [*command, "migrate"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"migrate exited {done.returncode}:\n{output}")


def start(
    env: dict[str, str],
    log_path: Path,
    *,
    command: Sequence[str] = ("uv", "run", "--no-sync", "main.py"),
    migrate_first: bool = True,
    ready_timeout: float = 60.0,
) -> Server:
    """Migrate (the production step), then serve until /readyz answers 200."""
    if migrate_first:
        migrate(env, command)
    out = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        list(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )
    out.close()
    server = Server(process, int(env["PORT"]), log_path, env)
    try:
        wait_ready(server, ready_timeout)
    except BaseException:
        server.stop(5)
        raise
    return server


def wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited {server.process.returncode}:\n{server.log()}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"server not ready in {timeout}s:\n{server.log()}")


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- databases --------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database(prefix: str = "phonegate_bench") -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards."""
    import asyncio

    import asyncpg

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite://{folder / 'bench.sqlite3'}"


def database(kind: str, folder: Path) -> contextlib.AbstractContextManager[str]:
    """A fresh database of ``kind`` ("postgres" or "sqlite") for one run."""
    return postgres_database() if kind == "postgres" else sqlite_database(folder)
