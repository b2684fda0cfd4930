"""Issuing a code and queueing the message that carries it, in the caller's transaction."""

from __future__ import annotations

import math

from resolvers import codes
from resolvers.deps import Deps


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
) -> codes.IssuedCode:
    """A new code for (kind, subject) and its message, queued in the caller's transaction,
    by ``channel`` in ``locale`` (the account's; a signup's own choice).

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
    )
    if issued.code is not None:
        await deps.outbox.enqueue(
            kind.action,
            phone,
            code=issued.code,
            minutes=math.ceil(deps.codes.ttl_seconds / 60),  # never understate the lifetime
            send_before=issued.expires_at,
            replaces=issued.replaced,
            channel=channel,
            locale=locale,
            code_id=issued.row_id,
        )
    return issued
