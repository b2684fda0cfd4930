"""Request ids, one structured log line per request, and operation metrics.

``RequestLog`` (outermost ASGI middleware) gives each request an id (a well-formed
incoming ``X-Request-ID`` is kept, otherwise one is made), returns it in ``X-Request-ID``,
times the request and, at its end, writes one line to the ``phonegate.request`` logger:
request id, method, path, status, duration, GraphQL root field(s) and result type(s),
client address. It never logs a body, a query string or a header value, so no code,
password, token or phone can reach the log through it.

``OperationRecorder`` (a Strawberry extension) notes each root field and the type of what
its resolver returned (``VerificationSent``, ``RateLimited``, ``null`` ...), counts it in
``phonegate_operations_total`` and hands it to the request's log line.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import Schema
from strawberry.extensions import SchemaExtension

from core import metrics

log = logging.getLogger("phonegate.request")

INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KNOWN_PATHS = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/twilio/status"})
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: logged at DEBUG
INVALID = "(invalid)"


@dataclass
class RequestRecord:
    """What one request did, filled in while it runs."""

    request_id: str
    fields: list[tuple[str, str]] = field(default_factory=list)

    @property
    def operation(self) -> str:
        return ",".join(name for name, _ in self.fields) or "-"

    @property
    def result(self) -> str:
        return ",".join(result for _, result in self.fields) or "-"

    @property
    def operation_label(self) -> str:
        """A bounded metric label: the root field, or "multiple"."""
        if len(self.fields) > 1:
            return "multiple"
        return self.fields[0][0] if self.fields else "-"


_current: ContextVar[RequestRecord | None] = ContextVar("phonegate_request", default=None)


def current_request_id() -> str | None:
    record = _current.get()
    return record.request_id if record else None


class RequestIdFilter(logging.Filter):
    """Adds the request id to every log record written while a request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None:
            record.fields = {**getattr(record, "fields", {}), "request_id": request_id}
        return True


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if INCOMING_ID.match(text):
                return text
    return secrets.token_hex(8)


class RequestLog:
    """Request id, latency histogram and one log line for each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(_request_id(scope))
        header = (b"x-request-id", record.request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = _current.set(record)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            _current.reset(token)
            _finish(scope, record, status, seconds)


def _finish(scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
    path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
    metrics.REQUEST_SECONDS.labels(path=path, operation=record.operation_label).observe(seconds)
    # Probes, and the files of the reference page (GET of any other path that worked).
    quiet = path in QUIET_PATHS or (path == "other" and scope["method"] == "GET" and status < 400)
    level = logging.DEBUG if quiet else logging.INFO
    if not log.isEnabledFor(level):
        return
    client = scope.get("client")  # after ProxyHeadersMiddleware rewrote it in place
    duration_ms = round(seconds * 1000, 2)
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "operation": record.operation,
        "result": record.result,
        "client": client[0] if client else None,
        "pid": os.getpid(),  # which worker, when there are several
    }
    log.log(
        level,
        "%s %s %s %s -> %s %.1fms [%s]",
        scope["method"],
        path,
        status,
        record.operation,
        record.result,
        duration_ms,
        record.request_id,
        extra={"fields": fields},
    )


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is not None:
        return str(definition.name)
    return {bool: "Boolean", str: "String", int: "Int", float: "Float"}.get(
        type(value), type(value).__name__
    )


def _record(name: str, result: str) -> None:
    metrics.OPERATIONS.labels(name=name, result=result).inc()
    request = _current.get()
    if request is not None:
        request.fields.append((name, result))


class OperationRecorder(SchemaExtension):
    """Counts each root field by its result type; documents refused before any resolver
    (syntax, validation, limits) count as ``(invalid)``."""

    def __init__(self) -> None:
        super().__init__()
        self.recorded = 0

    def on_operation(self) -> Iterator[None]:
        yield
        if self.recorded == 0:
            result = self.execution_context.result
            if result is not None and result.errors:
                _record(INVALID, "error")

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if info.path.prev is not None:  # only root fields are operations
            return _next(root, info, *args, **kwargs)
        self.recorded += 1
        try:
            value = _next(root, info, *args, **kwargs)
        except Exception:
            _record(info.field_name, "error")
            raise
        if isawaitable(value):
            return self._awaited(info.field_name, value)
        _record(info.field_name, _type_name(value))
        return value

    async def _awaited(self, name: str, value: Awaitable[Any]) -> Any:
        try:
            resolved = await value
        except Exception:
            _record(name, "error")
            raise
        _record(name, _type_name(resolved))
        return resolved


def observe(schema: Schema) -> Schema:
    """The schema with the operation recorder added to its extensions (a fresh one per
    request, like every extension)."""
    if OperationRecorder not in schema.extensions:
        schema.extensions = (*schema.extensions, OperationRecorder)
    return schema
