"""Limits every SMS-sending or guessing operation counts before doing any work."""

from __future__ import annotations

import contextlib
import ipaddress

from core.clock import now
from core.limit_specs import CHANNEL_LIMITS
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
    deps: Deps,
    client: Client,
    phone: str,
    *,
    wait_on: VerificationCode | None = None,
    phone_key: str = "",
    client_counted: bool = False,
    channel: str = "sms",
) -> None:
    """Per client, then the resend wait of ``wait_on`` (the code row a new code replaces or
    follows), then per destination phone, per number block and global. A request refused by
    the wait costs the phone's budget nothing, so a burst of resends cannot use up the
    owner's SMS for the day. ``phone_key`` names a separate per-phone budget: login codes
    have their own, so nobody without the password can spend the SMS the owner needs to
    log in (see sessions.py). ``channel`` adds that channel's own per-phone tier
    (core/limit_specs.py), counted before the shared one: a refused call costs the phone's
    SMS budget nothing. Every tier here is counted before any flow looks at whether the phone
    is registered, so a refusal tells nothing about it."""
    if not client_counted:
        await deps.limits.hit("sms_per_client", client.address)
    codes.ensure_cooled_down(wait_on, deps.codes, now())
    keys = (phone, *((phone_key,) if phone_key else ()))
    tier = CHANNEL_LIMITS[channel]
    if tier is not None:
        await deps.limits.hit(tier, *keys)
    await deps.limits.hit("sms_per_phone", *keys)
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


async def guess_budget(deps: Deps, client: Client) -> None:
    """A code guess: counted per client, before the work. Nothing about an account is
    counted or consulted: a wrong guess counts against its challenge's code (codes.check)."""
    await deps.limits.hit("verify_per_client", client.address)


async def under_attack(deps: Deps, account_key: str) -> bool:
    """The account's wrong passwords are past its limits: a right password now steps up to
    an SMS code instead of being refused (the owner still gets in; a guesser does not)."""
    try:
        await deps.limits.test("failures_per_account", account_key)
        await deps.limits.test("password_failures_per_account", account_key)
    except RateLimitExceeded:
        return True
    return False


async def failed(deps: Deps, account_key: str) -> None:
    """Count a wrong password against the account's day; never refuses by itself."""
    with contextlib.suppress(RateLimitExceeded):  # already full: the account steps up
        await deps.limits.hit("failures_per_account", account_key)


async def password_budget(deps: Deps, account_key: str) -> None:
    """Before a logged-in caller's password is checked (changePassword, deleteAccount ...):
    refused while the account's failures of the day are spent, and counted towards its
    growing waits now, before the work, so a burst of parallel attempts is refused past the
    limit instead of all passing one look. Keyed on the account id, never on a phone or
    username, so nobody logged out can fill it."""
    await deps.limits.test("failures_per_account", account_key)
    await deps.limits.hit("password_failures_per_account", account_key)


async def login_attempt(deps: Deps, account_key: str) -> None:
    """Count a login's password attempt towards the identifier's growing waits, before the
    work; never refuses (past the limits the account steps up instead)."""
    with contextlib.suppress(RateLimitExceeded):
        await deps.limits.hit("password_failures_per_account", account_key)


async def succeeded(deps: Deps, account_key: str) -> None:
    await deps.limits.clear("failures_per_account", account_key)
    await deps.limits.clear("password_failures_per_account", account_key)
