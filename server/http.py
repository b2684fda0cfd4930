"""HTTP around the GraphQL endpoint: body limit, health and readiness, the metrics route."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections

from core.metrics import exposition
from core.settings import Settings
from resolvers.deps import Deps

log = logging.getLogger("phonegate.http")


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, before anything reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class ForwardedAddressesOnly:
    """X-Forwarded-For as uvicorn's ProxyHeadersMiddleware may read it: only the addresses
    right of the last entry that is not an IP address. A junk value ("unknown", "foo",
    "1.2.3.4:80") from a trusted proxy became the client's key for every
    per-client limit; now the client is the nearest real address, or the proxy itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = list(scope.get("headers") or [])
            cleaned = [(k, v) for k, v in headers if k != b"x-forwarded-for"]
            forwarded = b",".join(v for k, v in headers if k == b"x-forwarded-for")
            kept = _trailing_addresses(forwarded.decode("latin-1"))
            if kept:
                cleaned.append((b"x-forwarded-for", kept.encode("latin-1")))
            if len(cleaned) != len(headers) or kept != forwarded.decode("latin-1"):
                scope = {**scope, "headers": cleaned}
        await self.app(scope, receive, send)


def _trailing_addresses(forwarded: str) -> str:
    entries = [e.strip() for e in forwarded.split(",")] if forwarded.strip() else []
    kept: list[str] = []
    for entry in reversed(entries):
        if not _is_address(entry):
            break
        kept.append(entry)
    return ", ".join(reversed(kept))


def _is_address(entry: str) -> bool:
    try:
        ipaddress.ip_address(entry)
    except ValueError:
        return False
    return True


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    # A GraphQL JSON response, as every other error answer of /graphql is.
    response = JSONResponse({"errors": [{"message": "Request body too large"}]}, status_code=413)
    await response(scope, receive, send)


READY_TIMEOUT_SECONDS = 2.0


def health_routes(deps: Deps) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = {"database": await _check("database", _database_answers())}
        if not deps.settings.rate_limit_storage.startswith("memory"):
            checks["redis"] = await _check("redis", deps.limits.ping())
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **checks},
            status_code=200 if ready else 503,
        )

    return [Route("/healthz", healthz), Route("/readyz", readyz)]


async def _database_answers() -> bool:
    await connections.get("default").execute_query("SELECT 1")
    return True


async def _check(name: str, probe: Awaitable[bool]) -> str:
    """ "ok" or "unreachable" (a dependency that hangs counts as unreachable after a bound);
    why it is unreachable goes to the log, not to whoever asks."""
    try:
        ok = await asyncio.wait_for(probe, READY_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %ss", name, READY_TIMEOUT_SECONDS)
        return "unreachable"
    except Exception as e:  # any failure means not ready
        log.warning("readiness: %s unreachable (%s)", name, type(e).__name__)
        return "unreachable"
    return "ok" if ok else "unreachable"


def metrics_route(settings: Settings) -> Route:
    async def metrics(request: Request) -> Response:
        if settings.metrics_port:  # served on its own port only (server/supervisor.py)
            return PlainTextResponse("Not Found", status_code=404)
        if settings.metrics_token:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
                return PlainTextResponse("forbidden", status_code=403)
        elif settings.production:
            return PlainTextResponse("set METRICS_TOKEN to read metrics", status_code=403)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics)
