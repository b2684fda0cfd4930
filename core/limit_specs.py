"""The named rate limits and their default tiers, and RATE_LIMITS overrides parsed into
``limits`` items. Configuration only: resolvers/limits.py counts against them."""

from __future__ import annotations

from collections.abc import Mapping

from limits import RateLimitItem, parse_many

DEFAULTS: dict[str, str] = {
    # SMS that anybody can cause, per destination phone, per client address, per block of
    # neighbouring numbers (pumping runs through number ranges) and for the whole service.
    "sms_per_phone": "5/10 minutes;10/day",
    "sms_per_client": "10/10 minutes;30/day",
    "sms_per_prefix": "20/10 minutes;100/day",
    "sms_global": "1000/hour",
    # Each channel's own tier per destination phone (CHANNEL_LIMITS), besides sms_per_phone,
    # which every code and notice counts whatever its channel (issue 16). A call costs
    # several times an SMS and rings someone: fewer calls than texts. An SMS has no tier of
    # its own: sms_per_phone is it.
    "voice_per_phone": "3/10 minutes;5/day",
    "whatsapp_per_phone": "5/10 minutes;10/day",
    # deliveryStatus per client address: a page polls every few seconds for some minutes.
    "status_per_client": "300/10 minutes;2000/day",
    # Code guesses and logins per client address (all attempts, counted before the work).
    "verify_per_client": "30/10 minutes;200/day",
    "login_per_client": "20/10 minutes;200/day",
    # Failed code or password attempts per account across resends (NIST: <= 100 a day);
    # past it only an SMS reset works. Cleared by a successful login or reset.
    "failures_per_account": "100/day",
    # Wrong passwords per account: growing waits against guessing from many addresses.
    "password_failures_per_account": "5/minute;20/hour",
    # Authenticated operations that send SMS or check the password, per account.
    "account_ops": "10/10 minutes;50/day",
}


# The per-phone tier of each channel beside the shared one (None: the shared one alone).
CHANNEL_LIMITS: dict[str, str | None] = {
    "sms": None,
    "voice": "voice_per_phone",
    "whatsapp": "whatsapp_per_phone",
}


def parse_limits(overrides: str = "") -> dict[str, list[RateLimitItem]]:
    """The tiers of every named limit, the defaults with RATE_LIMITS applied; ValueError
    naming the limit for an unknown name or a spec that is no "N/period[;N/period]"."""
    items: dict[str, list[RateLimitItem]] = {}
    for name, spec in {**DEFAULTS, **_parse_overrides(overrides)}.items():
        try:
            items[name] = parse_many(spec.replace(";", ","))
        except ValueError:
            raise ValueError(
                f"RATE_LIMITS: {name}={spec!r} is not like '5/10 minutes;10/day'"
            ) from None
    return items


def _parse_overrides(text: str) -> Mapping[str, str]:
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    overrides = {name.strip(): spec.strip() for name, spec in pairs}
    unknown = overrides.keys() - DEFAULTS.keys()
    if unknown:
        raise ValueError(f"RATE_LIMITS names unknown limits: {', '.join(sorted(unknown))}")
    return overrides
