"""What the attacker's suite (tests/test_attacks_*.py) shares: clients behind a trusted
proxy, and the calls an outsider makes with nothing but a phone number."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests import documents as d
from tests.support import STRONG_PASSWORD

# Codes and resends as fast as the contract's other limits allow: what is under test is
# what a challenge, an account or a phone gives away, not the resend wait.
NO_WAIT = {"RESEND_COOLDOWN_SECONDS": "0"}
# The app's peer: the trusted proxy (FORWARDED_ALLOW_IPS' default), so X-Forwarded-For names
# each request's client.
PROXY = ("127.0.0.1", 40000)


def client() -> dict[str, str]:
    """A fresh client address, as a trusted proxy names it (X-Forwarded-For)."""
    return {"X-Forwarded-For": f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.9"}


async def signup(
    api: Any, phone: str, password: str = STRONG_PASSWORD, username: str | None = None, **h: str
) -> dict[str, Any]:
    variables = {"input": {"phone": phone, "password": password, "username": username}}
    return await api.run(d.SIGNUP, variables, headers=h or client())


async def verify(api: Any, phone: str, challenge: str, code: str, **h: str) -> dict[str, Any]:
    variables = {"input": {"phone": phone, "challenge": challenge, "code": code}}
    return await api.run(d.VERIFY_PHONE, variables, headers=h or client())


async def login(api: Any, identifier: str, password: str, **h: str) -> dict[str, Any]:
    variables = {"input": {"identifier": identifier, "password": password}}
    return await api.run(d.LOGIN, variables, headers=h or client())


async def request_reset(api: Any, phone: str, **h: str) -> dict[str, Any]:
    return await api.run(d.REQUEST_RESET, {"phone": phone}, headers=h or client())


async def reset(
    api: Any, phone: str, challenge: str, code: str, password: str, **h: str
) -> dict[str, Any]:
    variables = {
        "input": {"phone": phone, "challenge": challenge, "code": code, "newPassword": password}
    }
    return await api.run(d.RESET_PASSWORD, variables, headers=h or client())


def wrong(code: str, offset: int = 1) -> str:
    return f"{(int(code) + offset) % 1_000_000:06d}"


async def step_up(api: Any, identifier: str, guesses: int = 30) -> None:
    """Wrong passwords for ``identifier`` until it is well past its limits (stepped up: every
    login answers SecondFactorRequired), ten at a time: a stepped-up answer is held to a
    floor (sessions.STEP_UP_ANSWER_FLOOR_SECONDS), so one at a time would take seconds."""
    for start in range(0, guesses, 10):
        tries = range(start, min(start + 10, guesses))
        await asyncio.gather(*[login(api, identifier, f"guess number {i}") for i in tries])
