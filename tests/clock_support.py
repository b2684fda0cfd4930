"""A clock for session tests: moves the time the token and session flows read
(``core.clock.now`` as imported by resolvers/tokens.py and resolvers/sessions.py) forward,
without sleeping. A test module defines its fixture with ``moved_clock(monkeypatch)``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core import clock as real_clock
from resolvers import sessions, tokens


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return real_clock.now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(tokens, "now", moved.now)
    monkeypatch.setattr(sessions, "now", moved.now)
    return moved
