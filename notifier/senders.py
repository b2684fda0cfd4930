"""The small protocol every sender implements, and the console sender.

A sender returns the provider's message id (or None) or raises SendError, which says whether
trying again later can help.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("phonegate.sms")


class SendError(Exception):
    def __init__(self, detail: str, *, code: int | None = None, transient: bool) -> None:
        super().__init__(detail)
        self.code = code
        self.transient = transient


class Sender(Protocol):
    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None
    ) -> str | None: ...

    async def close(self) -> None: ...


class ConsoleSender:
    """Development: each message, with its action type, written to the log."""

    async def send(
        self, to: str, body: str, *, action: str, status_callback: str | None
    ) -> str | None:
        log.warning("SMS to %s [%s]: %s", to, action, body)
        return None

    async def close(self) -> None:
        return None
