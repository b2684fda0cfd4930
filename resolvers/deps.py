"""What every flow needs, built once per process from the settings."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from notifier.outbox import Outbox
from notifier.templates import Templates
from resolvers import metrics
from resolvers.codes import CodePolicy
from resolvers.limits import RateLimits
from resolvers.passwords import Passwords
from resolvers.phones import normalize_phone
from resolvers.settings import Settings
from resolvers.tokens import TokenPolicy


@dataclass(frozen=True)
class Client:
    """Who is asking: the client address (after trusted proxies)."""

    address: str


@dataclass
class Deps:
    settings: Settings
    passwords: Passwords
    limits: RateLimits
    codes: CodePolicy
    tokens: TokenPolicy
    outbox: Outbox
    wake_outbox: Callable[[], None] = field(default=lambda: None)

    def phone(self, raw: str) -> str:
        return normalize_phone(raw, allowed_countries=self.settings.allowed_countries)

    def password_limits(self) -> dict[str, int]:
        return {
            "min_length": self.settings.password_min_length,
            "max_length": self.settings.password_max_length,
        }


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose, derived from the server secret (never the secret itself)."""
    return hmac.new(secret.encode(), f"phonegate/{purpose}".encode(), hashlib.sha256).digest()


def hash_concurrency(settings: Settings) -> int:
    """Hashes at once per worker: by default the cores shared out among the workers, so
    that N workers run no more hashes than there are cores (with 2 workers on 2 cores,
    2 threads each cost login 20% more CPU and 16% of its rate: bench/run.py)."""
    if settings.hash_concurrency:
        return settings.hash_concurrency
    return max(1, (os.cpu_count() or 1) // settings.web_concurrency)


def build_deps(settings: Settings) -> Deps:
    return Deps(
        settings=settings,
        passwords=Passwords(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
            concurrency=hash_concurrency(settings),
            on_wait=metrics.HASH_WAIT.observe,
        ),
        limits=RateLimits(settings.rate_limit_storage, settings.rate_limits),
        codes=CodePolicy(
            key=derive_key(settings.jwt_secret, "code-hash"),
            length=settings.verification_code_length,
            ttl_seconds=settings.verification_code_ttl_seconds,
            max_attempts=settings.verification_max_attempts,
            cooldown_seconds=settings.resend_cooldown_seconds,
            cooldown_max_seconds=max(
                settings.resend_cooldown_max_seconds, settings.resend_cooldown_seconds
            ),
            fixed_codes=settings.test_codes,
        ),
        tokens=TokenPolicy(
            signing_key=settings.jwt_secret,
            hash_key=derive_key(settings.jwt_secret, "refresh-hash"),
            access_ttl_seconds=settings.access_token_ttl_seconds,
            refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        ),
        outbox=Outbox(
            templates=Templates(settings.sms_templates_file, settings.webotp_domain),
            suppressed_phones=frozenset(settings.test_codes),
        ),
    )
