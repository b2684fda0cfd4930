"""Connections that never finish their request: bounded, counted and limited per worker.

uvicorn's protocols time out only an idle keep-alive connection after a response; a
connection that sends nothing, or headers a byte at a time, or a body that never ends, was
held forever (900 of them held open; 60 filled a 1,024-file limit and /healthz failed).
``GuardedHttp`` is uvicorn's httptools protocol with two deadlines: the request's headers
must arrive within REQUEST_HEADER_TIMEOUT_SECONDS of its first byte (or of the connection,
for the first request) and its body within REQUEST_BODY_TIMEOUT_SECONDS of the headers;
past either the connection is closed and counted in
``phonegate_slow_connections_closed_total{reason}``. Beyond MAX_CONNECTIONS_PER_WORKER open
connections, a new one is closed at once (counted, and logged at most once a minute).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core import metrics
from core import settings as config

log = logging.getLogger("phonegate.connections")
LIMIT_LOG_EVERY_SECONDS = 60.0


@functools.cache
def _settings() -> config.Settings:
    return config.load()  # the worker's environment (the command line exported its flags)


class GuardedHttp(HttpToolsProtocol):
    _limit_logged = -LIMIT_LOG_EVERY_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self.header_timeout = settings.request_header_timeout_seconds
        self.body_timeout = settings.request_body_timeout_seconds
        self.max_connections = settings.max_connections_per_worker
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            metrics.SLOW_CLIENTS.labels(reason="limit").inc()
            self._note_limit()
            transport.close()
            return
        self._arm(self.header_timeout, "headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a later request on a kept-alive connection
            self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if not self.parser.should_upgrade():  # an upgraded connection is no more ours
            self._arm(self.body_timeout, "body")  # disarmed at once when there is no body

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, reason: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._expire, reason)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self, reason: str) -> None:
        self.deadline = None
        if not self.transport.is_closing():
            metrics.SLOW_CLIENTS.labels(reason=reason).inc()
            log.debug("connection closed: its %s did not arrive in time", reason)
            self.transport.close()

    def _note_limit(self) -> None:
        now = time.monotonic()
        if now - GuardedHttp._limit_logged >= LIMIT_LOG_EVERY_SECONDS:
            GuardedHttp._limit_logged = now
            log.warning(
                "connection limit reached: worker %d holds %d connections "
                "(MAX_CONNECTIONS_PER_WORKER); new connections are closed",
                os.getpid(),
                self.max_connections,
            )


def raise_open_file_limit(wanted: int) -> int:
    """The soft limit on open files raised to the hard one (workers inherit it): each
    connection is a file. The limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as e:
            log.warning("could not raise the open-file limit from %d: %s", soft, e)
    if soft != resource.RLIM_INFINITY and soft < wanted + 100:
        log.warning(
            "open-file limit %d is below MAX_CONNECTIONS_PER_WORKER (%d) and what the "
            "worker needs beside: raise it (ulimit -n) or lower the setting",
            soft,
            wanted,
        )
    return soft
