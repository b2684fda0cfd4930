"""PostgreSQL and Redis servers that a fault test starts, freezes and stops itself: each its
own processes on a free port in a temporary folder, never the shared services.

``freeze()`` stops every process of the server with SIGSTOP (the postmaster and all its
backends: connections stay open, nothing answers), ``thaw()`` lets them go on.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


@dataclass
class OwnServer:
    process: subprocess.Popen[bytes]
    port: int
    url: str
    command: list[str | Path]
    user: str | None = None
    log: Path | None = None
    stop_signal: int = signal.SIGTERM

    def restart(self) -> None:
        """Start it again on the same port and data (after ``stop``)."""
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command,
            user=self.user,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.log:
            out.close()
        _wait_port(self.port, self.process)
        time.sleep(0.5)

    def family(self) -> list[int]:
        """The server's process and all its descendants (PostgreSQL's backends each call
        setsid(), so a process group does not reach them)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            parent = frontier.pop()
            children = [p for p, pp in parents.items() if pp == parent]
            found += children
            frontier += children
        return found

    def freeze(self, *, leader_only: bool = False) -> None:
        """SIGSTOP to the server (first, so that it starts nothing more) and, unless
        ``leader_only``, to every process it started."""
        for pid in [self.process.pid] if leader_only else self.family():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(self.family()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, self.stop_signal)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


@contextlib.contextmanager
def own_redis() -> Iterator[OwnServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    folder = tempfile.mkdtemp(prefix="phonegate-faults-redis-")
    port = free_port()
    command: list[str | Path] = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", folder]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: freeze() reaches only it
    )
    server = OwnServer(process, port, f"redis://127.0.0.1:{port}/0", command)
    try:
        _wait_port(port, process)
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.skip("PostgreSQL server binaries are not installed")
    return Path(found[-1]).parent


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnServer]:
    """A throwaway cluster (initdb, trust auth, fsync off). As root, it runs as the
    ``postgres`` user (PostgreSQL refuses to run as root)."""
    bin_dir = _postgres_bin()
    user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="phonegate-faults-pg-"))
    if user is not None:
        shutil.chown(folder, user)
    data = folder / "data"
    subprocess.run(
        [bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        user=user,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    settings = ["listen_addresses=127.0.0.1", f"unix_socket_directories={folder}"]
    settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    command: list[str | Path] = [bin_dir / "postgres", "-D", data, "-p", str(port)]
    for setting in settings:
        command += ["-c", setting]
    log = (folder / "postgres.log").open("wb")
    if user is not None:
        shutil.chown(folder / "postgres.log", user)
    process = subprocess.Popen(
        command, user=user, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    # SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for every client to leave)
    server = OwnServer(process, port, url, command, user, folder / "postgres.log", signal.SIGINT)
    try:
        _wait_port(port, process)
        time.sleep(0.5)  # the port opens a moment before connections are accepted
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
