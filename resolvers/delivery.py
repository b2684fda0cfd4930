"""Issuing a code and queueing the message that carries it, in the caller's transaction."""

from __future__ import annotations

import math

from notifier.actions import Action
from resolvers import codes
from resolvers.deps import Deps


async def queue_code(
    deps: Deps,
    action: Action,
    *,
    purpose: str,
    subject: str,
    phone: str,
    user_id: int | None,
    with_challenge: bool = False,
) -> codes.IssuedCode:
    """A new code for (purpose, subject); its SMS is queued only when there is a user.

    For an unknown phone (``user_id`` None) the code row still changes, so the cooldown
    and every answer stay the same as for a real account, but nothing is sent.
    """
    issued = await codes.issue(
        deps.codes,
        purpose=purpose,
        subject=subject,
        phone=phone,
        user_id=user_id,
        with_challenge=with_challenge,
    )
    if user_id is not None:
        await deps.outbox.enqueue(
            action,
            phone,
            code=issued.code,
            minutes=math.ceil(deps.codes.ttl_seconds / 60),  # never understate the lifetime
            send_before=issued.expires_at,
            replaces=issued.replaced,
        )
    return issued
