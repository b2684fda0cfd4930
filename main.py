"""phonegate: settings from the environment, ``create_app(settings)``, and the commands.

uv run main.py                 serve (migrating the database first outside production)
uv run main.py migrate         apply migrations (the production step)
uv run main.py outbox          recent messages; ``outbox --retry`` re-queues abandoned ones
uv run main.py export-schema   print the GraphQL SDL (schema.graphql)
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise
from uvicorn.config import STARTUP_FAILURE
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from models import tortoise_config
from notifier.callbacks import callback_url, status_route
from notifier.outbox import OutboxWorker, RetryPolicy
from notifier.senders import ConsoleSender, Sender
from resolvers import metrics
from resolvers import settings as config
from resolvers.deps import Client, Deps, build_deps
from resolvers.guards import client_key
from resolvers.settings import Settings, SettingsError
from schema.context import Context
from schema.graphql import build_schema, decode_request_json
from schema.http import BodyLimit, health_routes, metrics_route
from schema.observability import RequestIdFilter, RequestLog, observe

log = logging.getLogger("phonegate")
MAX_BODY_BYTES = 1024 * 1024
MAINTENANCE_SECONDS = 600
HOUSEKEEPING_SECONDS = 5


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry over Starlette with our typed context; no mutations over GET."""

    def __init__(self, deps: Deps, *, production: bool) -> None:
        super().__init__(
            observe(build_schema(production=production)),
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=not production,
            multipart_uploads_enabled=False,
        )
        self.deps = deps

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)  # 400, never a 500, for JSON that is no request

    async def get_context(self, request: Any, response: Any) -> Context:
        client = request.client.host if request.client else "unknown"
        return Context(deps=self.deps, request=request, client=Client(client_key(client)))


def make_sender(settings: Settings) -> Sender:
    if settings.sms_backend == "twilio":
        from notifier.twilio import TwilioSender  # only this sender imports twilio

        return TwilioSender(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_api_base_url,
            timeout_seconds=settings.twilio_timeout_seconds,
        )
    return ConsoleSender()


def create_app(settings: Settings, *, sender: Sender | None = None) -> Starlette:
    deps = build_deps(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            # Made here: the Twilio client's HTTP session needs the running loop.
            active_sender = sender or make_sender(settings)
            worker = OutboxWorker(
                active_sender,
                retry=RetryPolicy(
                    max_attempts=settings.outbox_max_attempts,
                    base_seconds=settings.outbox_retry_base_seconds,
                    max_seconds=settings.outbox_retry_max_seconds,
                    lease_seconds=settings.outbox_lease_seconds,
                ),
                status_callback=callback_url(settings),
                concurrency=settings.outbox_concurrency,
                poll_seconds=settings.outbox_poll_seconds,
            )
            deps.wake_outbox = worker.wake
            app.state.worker = worker
            worker.start()
            maintenance = asyncio.create_task(_maintain(deps))
            housekeeping = asyncio.create_task(_housekeeping())
            gc.freeze()  # start-up objects leave the collector's scans: shorter pauses
            try:
                yield
            finally:
                maintenance.cancel()
                housekeeping.cancel()
                await worker.stop(drain_seconds=settings.twilio_timeout_seconds)
                await active_sender.close()
                deps.passwords.close()
                await deps.limits.close()

    app = Starlette(
        routes=[
            *health_routes(deps),
            metrics_route(settings),
            status_route(settings),  # parses its form itself: no python-multipart needed
            Route(
                "/graphql",
                GraphQLApp(deps, production=settings.production),
                methods=["GET", "POST"],
            ),
            *_static_routes(settings),
        ],
        middleware=_middleware(settings),
        lifespan=lifespan,
    )
    app.state.deps = deps
    return app


def _middleware(settings: Settings) -> list[Middleware]:
    stack = [
        Middleware(RequestLog),  # outermost: times and logs every request, 413s included
        Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
        Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies or "127.0.0.1"),
    ]
    if settings.cors_origin_list:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    return stack


def _static_routes(settings: Settings) -> list[Mount]:
    """The reference SPA at / in development (clients/spa), if present."""
    from pathlib import Path

    from starlette.staticfiles import StaticFiles

    folder = Path(__file__).parent / "clients" / "spa"
    if settings.production or not folder.is_dir():
        return []
    return [Mount("/", StaticFiles(directory=folder, html=True), name="spa")]


async def _housekeeping() -> None:
    """Every few seconds: the outbox gauges, and freed memory handed back to the OS."""
    from resolvers.clock import now

    while True:
        try:
            await metrics.sample_outbox(now())
        except Exception:
            log.exception("outbox metrics sample failed")
        _return_freed_memory()
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


def _return_freed_memory() -> None:
    """Free pages inside the malloc heap go back to the OS (glibc keeps them otherwise)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _one_malloc_arena() -> None:
    """One glibc malloc arena per process, before any thread starts (workers started later
    inherit it through MALLOC_ARENA_MAX). With the default (one per thread) every argon2
    thread keeps its last ARGON2_MEMORY_KIB block after a burst of signups: +19 MiB per
    thread at idle. Hashing is as fast either way (measured with bench/run.py)."""
    os.environ.setdefault("MALLOC_ARENA_MAX", "1")
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, int(os.environ["MALLOC_ARENA_MAX"]))


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - present on glibc only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()
M_ARENA_MAX = -8  # glibc's mallopt parameter number
PR_SET_PDEATHSIG = 1  # prctl option: a signal for this process when its parent dies


def _stop_with_supervisor() -> None:
    """A worker process is sent SIGTERM (a graceful stop) when its supervisor dies, even by
    SIGKILL. Otherwise it went on serving as an orphan: with old code or settings, its
    claimed SMS never put back, and a restarted server sharing the port with it."""
    parent = multiprocessing.parent_process()
    if _LIBC is None or parent is None:  # not a spawned worker (or not Linux)
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent.pid:  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


async def _maintain(deps: Deps) -> None:
    from resolvers.maintenance import purge

    while True:
        try:
            await purge(deps)
        except Exception:
            log.exception("maintenance pass failed")
        await asyncio.sleep(MAINTENANCE_SECONDS)


# --- commands -------------------------------------------------------------------------


async def migrate(settings: Settings) -> None:
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()


def app_factory() -> Starlette:
    """For uvicorn workers: settings from the environment (the CLI exported its flags)."""
    _stop_with_supervisor()
    _one_malloc_arena()
    _configure_logging(config.load())
    return create_app(config.load())


def _configure_logging(settings: Settings) -> None:
    as_json = (settings.log_format or ("json" if settings.production else "text")) == "json"
    handler = logging.StreamHandler()
    if as_json:
        from schema.http import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Neither format shows where a line was logged from, so none is looked up: the logging
    # HOWTO's "Optimization" (one stack walk fewer for each request's line).
    logging._srcfile = None
    logging.logMultiprocessing = False


def _serve_metrics(settings: Settings) -> None:
    """Several workers keep metrics in files that any worker's /metrics adds up; with
    METRICS_PORT they are served on that port by this (the supervising) process instead."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = os.environ.get(metrics.MULTIPROC_ENV)
    if settings.web_concurrency > 1 and not folder:
        folder = tempfile.mkdtemp(prefix="phonegate-metrics-")
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


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="phonegate: GraphQL API for phone-number accounts. Every option can also "
        "be set by the environment variable shown.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "outbox", "export-schema"],
        help="what to do (default: serve)",
    )
    parser.add_argument("--retry", action="store_true", help="outbox: re-queue abandoned messages")
    parser.add_argument("--limit", type=int, default=50, help="outbox: how many messages to list")
    for name, opt in config.options():
        default = f" (default: {opt.default!r})" if opt.default not in ("", None) else ""
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar=opt.env,
            help=f"{opt.help} [env {opt.env}]{default}",
        )
    args = parser.parse_args(argv)
    overrides = {
        opt.env: getattr(args, name)
        for name, opt in config.options()
        if getattr(args, name) is not None
    }
    return args, overrides


class BalancedWorkers(Multiprocess):
    """uvicorn's supervisor (health pings, restarts, SIGHUP, SIGTTIN/SIGTTOU), but each
    worker listens on a socket of its own, all bound to the one address with SO_REUSEPORT,
    so that the kernel spreads new connections evenly over the workers.

    On uvicorn's one shared socket, the worker that woke first accepted a whole burst:
    16 keep-alive connections opened together went 16/0, 10/6 and 16/0 in three tries
    (bench), so behind a proxy's connection pool one worker did all the work.
    A worker's socket stays open in this process while the worker restarts: connections
    that arrive meanwhile wait in its queue for the replacement.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config, sockets=[])
        self.slots: list[socket.socket] = []  # the listening socket of each process

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
        process = Process(self.config, [self.slots[index]])
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


def main(argv: Sequence[str] | None = None) -> int:
    _one_malloc_arena()
    args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.update(overrides)  # workers read the same settings from the environment
    try:
        settings = config.load()
    except (SettingsError, ValueError) as e:
        print(f"phonegate: configuration error: {e}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    if args.command == "export-schema":
        from schema.graphql import export

        sys.stdout.write(export())
        return 0
    if args.command == "migrate":
        asyncio.run(migrate(settings))
        print("migrations applied")
        return 0
    if args.command == "outbox":
        from notifier.admin import run_outbox_command

        return asyncio.run(run_outbox_command(settings, retry=args.retry, limit=args.limit))
    if not settings.production:
        asyncio.run(migrate(settings))
    _serve_metrics(settings)
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.web_concurrency,
        "proxy_headers": False,  # applied by the app itself, with FORWARDED_ALLOW_IPS
        "log_level": "info",
        "access_log": False,
        "timeout_graceful_shutdown": 20,
        # A worker answers the supervisor's health pings only once its imports are done:
        # on a busy machine that took longer than uvicorn's default 5 s, and the supervisor
        # killed and restarted workers in a loop.
        "timeout_worker_healthcheck": 30,
    }
    if settings.web_concurrency == 1 or sys.platform != "linux":
        # Only Linux spreads connections over SO_REUSEPORT sockets (BSD and macOS do not
        # balance them): elsewhere uvicorn's own supervisor and its one shared socket.
        uvicorn.run("main:app_factory", **options)
    else:
        BalancedWorkers(uvicorn.Config("main:app_factory", **options)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
