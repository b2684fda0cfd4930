"""Worker supervision: uvicorn's supervisor with a listening socket per worker, workers that
stop with their supervisor, and the metrics of several workers served together."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from core import metrics
from core.settings import Settings
from server.connections import raise_open_file_limit
from server.memory import LIBC

log = logging.getLogger("phonegate")
PR_SET_PDEATHSIG = 1  # prctl option: a signal for this process when its parent dies
# How long a stopping worker waits for the first request of connections that have sent none
# yet (a client sends it right after connecting).
QUEUED_REQUEST_WAIT_SECONDS = 2.0
# How long a stopping worker goes on accepting before it takes its queue and closes its
# listening sockets: when SIGTERM reaches the supervisor and the workers at once (systemd's
# control-group stop, Ctrl-C), the supervisor's copies must close first (see shutdown).
LISTEN_LINGER_SECONDS = 0.2


def serve(settings: Settings) -> None:
    """Serve until stopped: one worker in this process, or several under a supervisor."""
    serve_metrics(settings)
    raise_open_file_limit(settings.max_connections_per_worker)
    options: dict[str, Any] = {
        # Deadlines for headers and body, and the per-worker connection limit.
        "http": "server.connections:GuardedHttp",
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.web_concurrency,
        "proxy_headers": False,  # applied by the app itself, with FORWARDED_ALLOW_IPS
        "log_level": "info",
        "log_config": None,  # uvicorn's lines through our handler, in our format (server/logs.py)
        "access_log": False,
        "timeout_graceful_shutdown": 20,
        # A worker answers the supervisor's health pings only once its imports are done:
        # on a busy machine that took longer than uvicorn's default 5 s, and the supervisor
        # killed and restarted workers in a loop.
        "timeout_worker_healthcheck": 30,
    }
    config = uvicorn.Config("server.app:app_factory", **options)
    if settings.web_concurrency == 1:
        server = DrainingServer(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
    elif sys.platform != "linux":
        # Only Linux spreads connections over SO_REUSEPORT sockets (BSD and macOS do not
        # balance them): elsewhere uvicorn's own supervisor and its one shared socket.
        uvicorn.run("server.app:app_factory", **options)
    else:
        BalancedWorkers(config).run()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, but its stop loses no connection that reached it.

    uvicorn's own stop closes a listening socket with whatever the kernel queued on it
    since the loop last accepted, and then closes every connection that has not sent a
    request yet: both are dropped unanswered, and a client that sent a POST on one cannot
    know whether it ran (tests/test_faults_drain.py saw one in about five SIGTERMs under a
    stream of new connections). Here the stop first takes what is queued and closes the
    listening sockets with nothing in between (a few system calls, no await), then waits,
    for a bounded time, for the first request of every connection that has sent none, and
    only then stops the way uvicorn does: requests in flight are answered.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # The supervisor holds a copy of each worker's listening socket. When the signal
        # reaches it and this worker at once, its handler may run a few ms after this
        # worker closed its own copy; meanwhile the kernel still queued connections on the
        # supervisor's copy, and reset them when it closed (1 run in about 40 of
        # tests/test_faults_drain.py's at-once test). So this worker goes on accepting and
        # serving a moment longer, and takes the queue after the supervisor's copy is gone.
        # (A worker stopped by the supervisor, for SIGTERM or a rolling restart, only
        # stops a moment later.)
        await asyncio.sleep(LISTEN_LINGER_SECONDS)
        taken = self._close_listeners(sockets)
        loop = asyncio.get_running_loop()
        for connection in taken:
            try:
                connection.setblocking(False)
                await loop.connect_accepted_socket(self._protocol, connection)
            except OSError:
                connection.close()
        # uvicorn's stop closes every connection with no request yet, as it closes an idle
        # keep-alive one: a connection accepted a moment ago (or just taken from the queue)
        # whose request is still on its way would be dropped unanswered. Their requests are
        # awaited first, for a bounded time, so that they count as in flight below.
        deadline = loop.time() + QUEUED_REQUEST_WAIT_SECONDS
        while loop.time() < deadline and any(map(_no_request_yet, self.server_state.connections)):  # noqa: ASYNC110 - uvicorn's protocols signal no event
            await asyncio.sleep(0.01)
        await super().shutdown(sockets)

    def _close_listeners(self, sockets: list[socket.socket] | None) -> list[socket.socket]:
        taken: list[socket.socket] = []
        for server in self.servers:
            for listener in server.sockets:
                with socket.socket(fileno=os.dup(listener.fileno())) as queue:
                    queue.setblocking(False)
                    with contextlib.suppress(OSError):  # BlockingIOError: nothing more queued
                        while True:
                            taken.append(queue.accept()[0])
            server.close()
        for sock in sockets or []:
            sock.close()
        return taken

    def _protocol(self) -> asyncio.Protocol:
        """What uvicorn's own startup makes for each accepted connection."""
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _no_request_yet(protocol: Any) -> bool:
    """An open connection that has not sent a request yet (an idle keep-alive one has)."""
    transport = getattr(protocol, "transport", None)
    open_ = transport is not None and not transport.is_closing()
    return open_ and getattr(protocol, "cycle", None) is None


class DrainingProcess(Process):
    """uvicorn's worker process, running a DrainingServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


def stop_with_supervisor() -> None:
    """A worker process is sent SIGTERM (a graceful stop) when its supervisor dies, even by
    SIGKILL. Otherwise it went on serving as an orphan: with old code or settings, its
    claimed SMS never put back, and a restarted server sharing the port with it."""
    parent = multiprocessing.parent_process()
    if LIBC is None or parent is None:  # not a spawned worker (or not Linux)
        return
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent.pid:  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


METRICS_PREFIX = "phonegate-metrics-"


def remove_orphaned_metrics() -> list[Path]:
    """Remove the metrics folders of servers that exited without removing theirs (killed:
    atexit never ran); each folder's name holds the pid of the process that made it."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue  # an older name without a pid, or a server still running
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def serve_metrics(settings: Settings) -> None:
    """Several workers keep metrics in files that any worker's /metrics adds up; with
    METRICS_PORT they are served on that port by this (the supervising) process instead."""
    folder = os.environ.get(metrics.MULTIPROC_ENV)
    if settings.web_concurrency > 1 and not folder:
        remove_orphaned_metrics()
        folder = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ[metrics.MULTIPROC_ENV] = folder  # read by the workers at import
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):  # left by an earlier run
            stale.unlink()
    if settings.metrics_port:
        from prometheus_client import start_http_server
        from prometheus_client.registry import REGISTRY, CollectorRegistry

        registry = REGISTRY
        if folder:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry)


class BalancedWorkers(Multiprocess):
    """uvicorn's supervisor (health pings, restarts, SIGHUP, SIGTTIN/SIGTTOU), but each
    worker listens on a socket of its own, all bound to the one address with SO_REUSEPORT,
    so that the kernel spreads new connections evenly over the workers.

    On uvicorn's one shared socket, the worker that woke first accepted a whole burst:
    16 keep-alive connections opened together went 16/0, 10/6 and 16/0 in three tries
    (bench), so behind a proxy's connection pool one worker did all the work.
    A worker's socket stays open in this process while the worker restarts: connections
    that arrive meanwhile wait in its queue for the replacement (SIGHUP loses none).
    On SIGTERM this process closes its copies first, before it tells the workers to
    drain: a worker's socket then closes with the worker's own copy, so new connections
    are refused at once instead of queueing on a socket nobody accepts from and being
    reset when this process exits.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config, sockets=[])
        self.slots: list[socket.socket] = []  # the listening socket of each process
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, self._stop_now)

    def _stop_now(self, signum: int, frame: object) -> None:
        """SIGTERM or SIGINT: this process's copies of the listening sockets closed in the
        handler itself, not at the main loop's next turn (up to 0.5 s later). When the
        signal reaches the workers too (systemd's control-group stop, Ctrl-C to the
        terminal's process group), they close their own copies 0.2 s later
        (DrainingServer.shutdown): copies left open here after that still queued new
        connections that nobody accepted, reset when this process exited
        (tests/test_faults_drain.py)."""
        for slot in self.slots:
            slot.close()
        self.should_exit.set()  # no restart or new worker on a closed socket
        self.signal_queue.append(signum)

    def _listen(self) -> socket.socket:
        host = self.config.host
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        port = self.slots[0].getsockname()[1] if self.slots else self.config.port
        try:
            sock.bind((host, port))
        except OSError as e:
            log.error("cannot listen on %s:%s: %s", host, port, e)
            sys.exit(STARTUP_FAILURE)
        sock.set_inheritable(True)
        return sock

    def _start(self, index: int) -> Process:
        process = DrainingProcess(self.config, [self.slots[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        for index in range(self.processes_num):
            self.slots.append(self._listen())
            self.processes.append(self._start(index))
        log.info("listening on %s:%s, %d workers", self.config.host, self.port, len(self.slots))

    @property
    def port(self) -> int:
        port: int = self.slots[0].getsockname()[1]
        return port

    def terminate_all(self) -> None:
        for slot in self.slots:
            slot.close()
        log.info("listening sockets closed: draining %d workers", len(self.processes))
        super().terminate_all()

    def keep_subprocess_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # would fail the same way again
                log.error("worker %s failed to start: stopping", process.pid)
                self.should_exit.set()
                return
            log.info("worker %s died: starting another on its socket", process.pid)
            self.processes[index] = self._start(index)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn, the new one serving before the old stops."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("worker %s was not ready in time: restart abandoned", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def handle_ttin(self) -> None:
        self.slots.append(self._listen())
        self.processes.append(self._start(len(self.slots) - 1))
        self.processes_num = len(self.processes)

    def handle_ttou(self) -> None:
        if len(self.processes) <= 1:
            return
        process = self.processes.pop()
        process.terminate()
        process.join()
        self.slots.pop().close()
        self.processes_num = len(self.processes)
