"""Limits every SMS-sending or guessing operation counts before doing any work."""

from __future__ import annotations

import contextlib
import ipaddress

from core.clock import now
from models import VerificationCode
from resolvers import codes
from resolvers.deps import Client, Deps
from resolvers.errors import RateLimitExceeded
from resolvers.limits import RateLimits
from resolvers.phones import phone_prefix

IPV6_SUBSCRIBER_PREFIX = 64  # one home or one cloud VM is given a whole /64


def client_key(address: str) -> str:
    """What per-client limits count on (``Client.address``): an IPv4 address, or the /64
    an IPv6 one is in (whoever holds one IPv6 address can use every address of its /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_SUBSCRIBER_PREFIX}", strict=False))
    return str(ip)


async def sms_budget(
    deps: Deps, client: Client, phone: str, *, purpose: str | None = None, subject: str = ""
) -> None:
    """Per client, then (given the code's purpose) the resend wait, then per destination
    phone, per number block and global. A request refused by the wait costs the phone's
    budget nothing, so a burst of resends cannot use up the owner's SMS for the day."""
    await deps.limits.hit("sms_per_client", client.address)
    if purpose is not None:
        await resend_wait(deps, purpose, subject or phone)
    await deps.limits.hit("sms_per_phone", phone)
    await deps.limits.hit("sms_per_prefix", phone_prefix(phone))
    await deps.limits.hit("sms_global")


async def notice_budget(limits: RateLimits, phone: str) -> int:
    """For the outbox worker, about to send a notice: 0 once one SMS to ``phone`` is counted
    in the per-phone and global budgets, else the seconds until both have room (counting
    nothing: a notice waits, it is never refused). Looked at before counted, so a full
    global budget costs the phone nothing; a race between two workers can only over-count."""
    try:
        await limits.test("sms_per_phone", phone)
        await limits.test("sms_global")
        await limits.hit("sms_per_phone", phone)
        await limits.hit("sms_global")
    except RateLimitExceeded as e:
        return max(1, e.retry_after)
    return 0


async def resend_wait(deps: Deps, purpose: str, subject: str) -> None:
    """RateLimitExceeded while the code of (purpose, subject) is in its resend wait."""
    row = await VerificationCode.get_or_none(purpose=purpose, subject=subject)
    codes.ensure_cooled_down(row, deps.codes, now())


async def guess_budget(deps: Deps, client: Client, account_key: str) -> None:
    """A code guess: counted per client; refused while the account's failures are spent."""
    await deps.limits.hit("verify_per_client", client.address)
    await deps.limits.test("failures_per_account", account_key)


async def failed(deps: Deps, account_key: str) -> None:
    """Count a wrong code or password against the account's day; never refuses by itself.
    (A password attempt already counted towards the growing waits, before the work.)"""
    with contextlib.suppress(RateLimitExceeded):  # already full: the next test() refuses
        await deps.limits.hit("failures_per_account", account_key)


async def password_budget(deps: Deps, account_key: str) -> None:
    """Before a password is checked: refused while the account's failures of the day are
    spent, and counted towards its growing waits now, before the work, so a burst of
    parallel attempts is refused past the limit instead of all passing one look."""
    await deps.limits.test("failures_per_account", account_key)
    await deps.limits.hit("password_failures_per_account", account_key)


async def succeeded(deps: Deps, account_key: str) -> None:
    await deps.limits.clear("failures_per_account", account_key)
    await deps.limits.clear("password_failures_per_account", account_key)
