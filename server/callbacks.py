"""POST /twilio/status: Twilio's delivery-status callback (checked and applied by
notifier/callbacks.py). Twilio posts application/x-www-form-urlencoded fields; the form is
parsed here, without python-multipart.

A body over 64 KiB (Twilio's callbacks are a few hundred bytes) is refused with 413 before
any of it is parsed: at once when Content-Length says so, else as soon as the bytes read
pass the cap. Parsing a 1 MB form of junk fields cost 0.86 s of event-loop CPU before its
403 (issue 11): the signature cannot be checked without parsing, so the size is checked
first.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.settings import Settings
from notifier.callbacks import PATH, handle_status

MAX_CALLBACK_BYTES = 64 * 1024


def status_route(settings: Settings) -> Route:
    """The callback endpoint; Twilio posts application/x-www-form-urlencoded fields."""

    async def status(request: Request) -> Response:
        raw = await _capped_body(request)
        if raw is None:
            return PlainTextResponse("Request body too large", status_code=413)
        params = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
        signature = request.headers.get("x-twilio-signature", "")
        ok = await handle_status(settings, params, signature, request.url.query)
        return PlainTextResponse("", status_code=204 if ok else 403)

    return Route(PATH, status, methods=["POST"])


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None when it is (or says it is) over MAX_CALLBACK_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_CALLBACK_BYTES):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
