"""Issuing a code and queueing the message that carries it, in the caller's transaction;
and what a person waiting for a code may see of its delivery (``status``).

Delivery status without enumeration. Anyone holding a challenge may ask what happened to
its code's message, and requestReset hands a challenge to anyone who knows a phone number,
so the answer must never tell whether the phone is registered (or, for login, whether the
password was right). What is shown depends on the code's kind (``SHOWN``):

- signup: every signup sends a real message to the phone by the channel asked for: the code
  to a new phone, the ``signup_existing`` notice to a registered one, and again on every
  resend (resolvers/signup.py). Both messages are named after the challenge's code row, so
  the status shown (queued, sent, delivered, failed and why) is that of a real message to
  that phone either way: it tells what the phone and its network did, nothing about an
  account.
- reset and login: an unregistered phone's reset, and a wrong password while login steps
  up, send nothing (SECURITY.md: no SMS to an unknown phone), so no real status exists for
  them, and a made-up one (a "delivered" on a timer) would differ from the real one exactly
  when the real one fails (a number not on WhatsApp, a landline asked for an SMS). These
  challenges always show QUEUED (accepted, no further news) with the channel asked for and
  no reason, whether a message went or not: no state that only a real message could reach.
- an unknown or forged challenge answers like a reset decoy: QUEUED, SMS, no reason.

Asking is counted per client (status_per_client), before the lookup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models import OutboxMessage, VerificationCode
from notifier.reasons import reason
from resolvers import codes
from resolvers.deps import Client, Deps

QUEUED, SENT, DELIVERED, FAILED = "queued", "sent", "delivered", "failed"
# What the person sees of a message in each outbox state.
SEEN_AS = {
    "queued": QUEUED,
    "sending": QUEUED,
    "sent": SENT,
    "suppressed": SENT,  # a TEST_PHONE_CODES number: nothing goes out, as if sent
    "delivered": DELIVERED,
    "undelivered": FAILED,
    "failed": FAILED,
    "abandoned": FAILED,
}
# Per code kind: "message" shows its latest message; "accepted" shows QUEUED only (see above).
SHOWN = {
    codes.SIGNUP.purpose: "message",  # a real message to the phone whether registered or not
    codes.RESET.purpose: "accepted",  # an unknown phone's reset sends nothing
    codes.LOGIN.purpose: "accepted",  # a wrong password while stepped up sends nothing
    codes.IDENTITY.purpose: "accepted",  # no challenge reaches it; listed for completeness
}


@dataclass(frozen=True)
class Delivery:
    status: str  # queued | sent | delivered | failed
    channel: str  # sms | voice | whatsapp
    reason: str | None  # why it failed, in plain words (English; translated by the API)


async def queue_code(
    deps: Deps,
    kind: codes.Kind,
    *,
    subject: str,
    phone: str,
    user_id: int | None,
    bind: bool = False,
    decoy: bool = False,
    channel: str = "sms",
    locale: str = "en",
    fresh: bool = False,
) -> codes.IssuedCode:
    """A new code for (kind, subject) and its message, queued in the caller's transaction,
    by ``channel`` in ``locale`` (the account's; a signup's own choice). ``fresh``: the
    subject can have no row yet (``codes.issue``).

    A decoy (an unknown phone, a registered phone's signup, a wrong password stepping up)
    and a resend of a dead code change the row the same way, but nothing is sent.
    """
    issued = await codes.issue(
        deps.codes,
        kind,
        subject=subject,
        phone=phone,
        user_id=user_id,
        bind=bind,
        decoy=decoy,
        channel=channel,
        fresh=fresh,
    )
    message = code_message(deps, kind, issued, phone=phone, channel=channel, locale=locale)
    if message is not None:
        await deps.outbox.queue(message, replaces=issued.replaced)
    return issued


def code_message(
    deps: Deps, kind: codes.Kind, issued: codes.IssuedCode, *, phone: str, channel: str, locale: str
) -> OutboxMessage | None:
    """The message carrying ``issued``'s code, not yet written (None: nothing to send); a
    statement chain writes it too (resolvers/signup.py)."""
    if issued.code is None:
        return None
    return deps.outbox.message(
        kind.action,
        phone,
        code=issued.code,
        minutes=math.ceil(deps.codes.ttl_seconds / 60),  # never understate the lifetime
        send_before=issued.expires_at,
        channel=channel,
        locale=locale,
        code_id=issued.row_id,
    )


async def status(deps: Deps, client: Client, challenge: str) -> Delivery:
    """What a person waiting for the code of ``challenge`` may see of its message."""
    await deps.limits.hit("status_per_client", client.address)
    row = await _row(deps, challenge)
    if row is None:
        return Delivery(QUEUED, "sms", None)
    channel = row.channel or "sms"
    if SHOWN[row.purpose] != "message":
        return Delivery(QUEUED, channel, None)
    message = await OutboxMessage.filter(code_id=row.id).order_by("-id").first()
    if message is None:  # a dead signup's resend: nothing went
        return Delivery(QUEUED, channel, None)
    seen = SEEN_AS.get(message.state, QUEUED)
    sent_by = message.channel or "sms"
    why = reason(message.last_error_code, sent_by) if seen == FAILED else None
    return Delivery(seen, sent_by, why)


async def _row(deps: Deps, challenge: str) -> VerificationCode | None:
    if not challenge or len(challenge) > codes.CHALLENGE_MAX:
        return None
    return await VerificationCode.get_or_none(
        challenge_hash=codes.challenge_hash(deps.codes, challenge)
    )
