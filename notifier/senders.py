"""The small protocol every sender implements, and the console sender.

A sender returns the provider's message id (or None) or raises SendError, which says whether
trying again later can help (``transient``), whether the provider may have accepted the
message anyway (``uncertain``: a timeout, a dropped connection) and whether an operator can
fix the cause (``fixable``: credentials, the sender number).

A sender that can also look up what the provider accepted (``find_sent``) lets the outbox
settle an uncertain try before trying again, instead of risking a second copy.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol, runtime_checkable

log = logging.getLogger("phonegate.sms")


class SendError(Exception):
    def __init__(
        self,
        detail: str,
        *,
        code: int | None = None,
        transient: bool,
        uncertain: bool = False,
        fixable: bool = False,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.transient = transient
        self.uncertain = uncertain
        self.fixable = fixable


class Sender(Protocol):
    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None
    ) -> str | None:
        """An SMS; a sender with more channels also takes ``channel="voice" | "whatsapp"``
        (the outbox passes it for those only, and to ``find_sent`` likewise)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Reconciler(Protocol):
    async def find_sent(self, to: str, body: str, *, since: datetime) -> list[str]:
        """Provider ids of messages to ``to`` with this body accepted since ``since``.

        Raises SendError when the provider cannot answer now (``transient``) or cannot
        answer at all (not transient: the caller then sends without checking).
        """
        ...


class ConsoleSender:
    """Development: each message, with its action type, written to the log."""

    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None, channel: str = "sms"
    ) -> str | None:
        log.info("%s to %s [%s]: %s", channel.upper(), to, action, " / ".join(body.splitlines()))
        return None

    async def close(self) -> None:
        return None
