"""Operator commands on accounts: ``uv run main.py disable-totp --phone P --reason R``.

For a person who lost both their authenticator app and their recovery codes: after their
identity was checked outside phonegate (the README says how), TOTP is turned off, the
recovery codes and every session end, the account's history records it and the phone gets
a `totp_changed` notice (sent by the running server's outbox worker). Each use is logged
with the operator's reason; no secret is ever printed or logged.
"""

from __future__ import annotations

import logging

from tortoise import Tortoise

from core.masking import mask_phone
from core.settings import Settings
from models import tortoise_config
from resolvers import second_factors
from resolvers.errors import InputRejected
from resolvers.phones import normalize_phone
from server.app import build_outbox

log = logging.getLogger("phonegate.operator")


async def run_disable_totp(settings: Settings, *, phone: str, reason: str) -> int:
    if not reason.strip():
        print("disable-totp: give --reason (who checked the identity, and how)")
        return 2
    try:
        e164 = normalize_phone(phone, allowed_countries=settings.allowed_countries)
    except InputRejected as e:
        print(f"disable-totp: {e.text}")
        return 2
    outbox = build_outbox(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        user = await second_factors.operator_disable(outbox, e164)
    finally:
        await Tortoise.close_connections()
    if user is None:
        print(f"disable-totp: no verified account has {mask_phone(e164)}")
        return 1
    log.warning(
        "operator turned TOTP off for user %s (%s): %s", user.id, mask_phone(e164), reason.strip()
    )
    print(f"TOTP turned off for user {user.id} ({mask_phone(e164)}); sessions ended, notice queued")
    return 0
