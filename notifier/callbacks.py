"""Twilio delivery-status callbacks: signature checked against PUBLIC_BASE_URL."""

from __future__ import annotations

from notifier.outbox import record_status
from resolvers.settings import Settings


async def handle_status(settings: Settings, params: dict[str, str], signature: str) -> bool:
    """Apply a signed callback; False (nothing changed) when the signature does not hold."""
    from twilio.request_validator import RequestValidator

    if not settings.public_base_url or not settings.twilio_auth_token or not signature:
        return False
    url = f"{settings.public_base_url.rstrip('/')}/twilio/status"
    if not RequestValidator(settings.twilio_auth_token).validate(url, params, signature):
        return False
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    error = params.get("ErrorCode")
    await record_status(sid, status, int(error) if error and error.isdigit() else None)
    return True
