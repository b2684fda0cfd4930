"""POST /twilio/status: Twilio's delivery-status callback (checked and applied by
notifier/callbacks.py). Twilio posts application/x-www-form-urlencoded fields; the form is
parsed here, without python-multipart."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.settings import Settings
from notifier.callbacks import PATH, handle_status


def status_route(settings: Settings) -> Route:
    """The callback endpoint; Twilio posts application/x-www-form-urlencoded fields."""

    async def status(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        params = dict(parse_qsl(body, keep_blank_values=True))
        signature = request.headers.get("x-twilio-signature", "")
        ok = await handle_status(settings, params, signature, request.url.query)
        return PlainTextResponse("", status_code=204 if ok else 403)

    return Route(PATH, status, methods=["POST"])
