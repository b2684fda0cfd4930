"""Twilio delivery-status callbacks: the signature check and applying a status (the route,
POST /twilio/status, is server/callbacks.py).

Twilio signs the URL it called plus the POST parameters with the auth token. Behind a TLS
proxy the app does not see that URL, so it is rebuilt from PUBLIC_BASE_URL. Without
PUBLIC_BASE_URL or an auth token no callback is accepted. A refused callback changes nothing
(403); an accepted one answers 204 whether or not the message is known (Twilio has nothing
to retry).
"""

from __future__ import annotations

from core.settings import Settings
from notifier.outbox import record_status

PATH = "/twilio/status"
# A callback may overtake the worker's record of the message id Twilio gave it.
UNKNOWN_SID_WAIT_SECONDS = 2.0


def callback_url(settings: Settings) -> str | None:
    """Where Twilio reports delivery: PUBLIC_BASE_URL + /twilio/status (None if unset)."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}{PATH}" if base else None


def signature_holds(settings: Settings, params: dict[str, str], signature: str, query: str) -> bool:
    from twilio.request_validator import RequestValidator

    url = callback_url(settings)
    if url is None or not settings.twilio_auth_token or not signature:
        return False
    if query:
        url = f"{url}?{query}"
    return bool(RequestValidator(settings.twilio_auth_token).validate(url, params, signature))


async def handle_status(
    settings: Settings, params: dict[str, str], signature: str, query: str = ""
) -> bool:
    """Apply a signed callback; False (nothing changed) when the signature does not hold."""
    if not signature_holds(settings, params, signature, query):
        return False
    # a call reports CallSid / CallStatus (issue 16)
    sid = params.get("MessageSid") or params.get("SmsSid") or params.get("CallSid") or ""
    status = (
        params.get("MessageStatus") or params.get("SmsStatus") or params.get("CallStatus") or ""
    )
    error = params.get("ErrorCode", "")
    code = int(error) if error.isdigit() else None
    await record_status(sid, status, code, wait_seconds=UNKNOWN_SID_WAIT_SECONDS)
    return True
