"""Limits every SMS-sending or guessing operation counts before doing any work."""

from __future__ import annotations

import contextlib

from resolvers.deps import Client, Deps
from resolvers.errors import RateLimitExceeded
from resolvers.phones import phone_prefix


async def sms_budget(deps: Deps, client: Client, phone: str) -> None:
    """Per client, per destination phone, per number block and global, in that order."""
    await deps.limits.hit("sms_per_client", client.address)
    await deps.limits.hit("sms_per_phone", phone)
    await deps.limits.hit("sms_per_prefix", phone_prefix(phone))
    await deps.limits.hit("sms_global")


async def guess_budget(deps: Deps, client: Client, account_key: str) -> None:
    """A code guess: counted per client; refused while the account's failures are spent."""
    await deps.limits.hit("verify_per_client", client.address)
    await deps.limits.test("failures_per_account", account_key)


async def failed(deps: Deps, account_key: str, *, password: bool = False) -> None:
    """Count a wrong code (or password) against the account; never refuses by itself."""
    names = ["failures_per_account"] + (["password_failures_per_account"] if password else [])
    for name in names:
        with contextlib.suppress(RateLimitExceeded):  # already full: the next test() refuses
            await deps.limits.hit(name, account_key)


async def password_budget(deps: Deps, account_key: str) -> None:
    """Refused while the account's failures are spent (growing waits for passwords)."""
    await deps.limits.test("failures_per_account", account_key)
    await deps.limits.test("password_failures_per_account", account_key)


async def succeeded(deps: Deps, account_key: str) -> None:
    await deps.limits.clear("failures_per_account", account_key)
    await deps.limits.clear("password_failures_per_account", account_key)
