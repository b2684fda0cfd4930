"""Limits every SMS-sending or guessing operation counts before doing any work."""

from __future__ import annotations

from resolvers.deps import Client, Deps
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


async def failed(deps: Deps, account_key: str) -> None:
    """Count a wrong password or code against the account (never refuses by itself)."""
    try:
        await deps.limits.hit("failures_per_account", account_key)
    except Exception:  # noqa: S110 - already at the limit: the next test() refuses
        pass
