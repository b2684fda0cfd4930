"""What every flow needs, built once per process from the settings."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from core.settings import Settings
from notifier.outbox import Outbox
from resolvers.codes import CodePolicy
from resolvers.errors import InputRejected
from resolvers.limits import RateLimits
from resolvers.passwords import Passwords
from resolvers.phones import normalize_phone
from resolvers.tokens import TokenPolicy


@dataclass(frozen=True)
class Client:
    """Who is asking: the client address (after trusted proxies) that limits count on, and
    for the security history the address as seen and the User-Agent header (at most 200)."""

    address: str
    ip_address: str | None = None
    user_agent: str | None = None
    # The Accept-Language header (at most 200 characters): the language of error messages
    # and, at signup without a locale, of the account (issue 16).
    accept_language: str | None = None


@dataclass
class Deps:
    settings: Settings
    passwords: Passwords
    limits: RateLimits
    codes: CodePolicy
    tokens: TokenPolicy
    outbox: Outbox

    def wake_outbox(self) -> None:
        """A look for due messages now, by this process's worker (if it runs): for messages
        queued outside ``Outbox.committing`` / ``handing_over``, which hand theirs over."""
        if self.outbox.worker is not None:
            self.outbox.worker.wake()

    def normalize_phone(self, raw: str) -> str:
        """E.164 of a phone that may receive SMS here, or InputRejected on "phone"."""
        return normalize_phone(
            raw,
            allowed_countries=self.settings.allowed_countries,
            test_numbers=not self.settings.production,
        )

    def channel(self, name: str) -> str:
        """The outbox channel ("sms", "voice", "whatsapp") if ALLOWED_CHANNELS has it, else
        InputRejected on "channel" (checked before anything is counted or sent)."""
        if name not in self.settings.channels:
            allowed = ", ".join(sorted(c.upper() for c in self.settings.channels))
            raise InputRejected("channel", f"Codes cannot go by that channel here; use {allowed}.")
        return name

    def password_limits(self) -> dict[str, int]:
        return {
            "min_length": self.settings.password_min_length,
            "max_length": self.settings.password_max_length,
        }


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose, derived from the server secret (never the secret itself)."""
    return hmac.new(secret.encode(), f"phonegate/{purpose}".encode(), hashlib.sha256).digest()
