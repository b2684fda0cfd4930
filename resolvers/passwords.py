"""Passwords: policy (length in code points after NFKC, zxcvbn) and argon2id hashing.

Hashing and verifying run in a bounded thread pool so the event loop never blocks and
memory stays capped (each argon2id hash takes ``memory_cost`` KiB while it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from resolvers.errors import PasswordTooWeak

T = TypeVar("T")
MIN_SCORE = 2  # zxcvbn: 0-1 are guessable within ~10^6 guesses (common and derived ones)
HASH_NICENESS = 10  # added to the threads' nice value: below request handling
SCORED_PREFIX = 64  # zxcvbn's cost grows with length; a longer tail only adds strength


def normalize_password(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw)


def check_policy(
    raw: str, *, min_length: int, max_length: int, context: tuple[str, ...] = ()
) -> str:
    """The NFKC form of an acceptable password, or PasswordTooWeak with the reason."""
    # NFKC can grow a string at most ~18x; anything that long is refused before any work.
    if len(raw) > max_length * 18:
        raise PasswordTooWeak(f"Use at most {max_length} characters.")
    password = normalize_password(raw)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        raise PasswordTooWeak("Use only characters you can type: this one cannot be stored.")
    if any(unicodedata.category(ch) == "Cc" for ch in password):  # NUL, tab, newline, ...
        raise PasswordTooWeak("Use only characters you can type: no control characters.")
    if len(password) < min_length:
        raise PasswordTooWeak(f"Use at least {min_length} characters.")
    if len(password) > max_length:
        raise PasswordTooWeak(f"Use at most {max_length} characters.")
    _check_not_derived(password, context)
    _check_strength(password, context)
    return password


def _check_not_derived(password: str, context: tuple[str, ...]) -> None:
    folded = password.casefold()
    digits = "".join(c for c in password if c.isdigit())
    for item in context:
        item_digits = "".join(c for c in item if c.isdigit())
        item_key = item.casefold()
        if (len(item_key) >= 3 and item_key in folded) or (
            len(item_digits) >= 7 and item_digits[-7:] in digits
        ):
            leftover = len(password) - len(item_key)
            if leftover < 6:
                raise PasswordTooWeak("Do not build the password from your phone or username.")


def _check_strength(password: str, context: tuple[str, ...]) -> None:
    result = zxcvbn(password[:SCORED_PREFIX], user_inputs=list(context))
    if result["score"] >= MIN_SCORE:
        return
    feedback = result.get("feedback") or {}
    reason = feedback.get("warning") or "This password is too easy to guess."
    hint = " ".join(feedback.get("suggestions") or [])
    raise PasswordTooWeak(f"{reason} {hint}".strip())


def _below_requests() -> None:
    """Hashing threads yield the CPU to the event loop (and the database) whenever those
    have work: a request waiting behind a hash would otherwise wait for a time slice.
    Linux keeps a nice value per thread; where that fails, nothing changes."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class Passwords:
    """argon2id with a bounded pool; ``wait_seconds`` reports the time spent queued."""

    def __init__(
        self,
        *,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        concurrency: int = 0,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        workers = concurrency or os.cpu_count() or 1
        self.pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=_below_requests
        )
        self.on_wait = on_wait
        self._dummy = self.hasher.hash("phonegate-dummy-password")

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        queued = time.perf_counter()

        def timed() -> T:
            if self.on_wait:
                self.on_wait(time.perf_counter() - queued)
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.pool, timed)

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        return await self._run(self._verify_sync, stored, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend what a real verify spends, so unknown accounts answer in the same time."""
        await self._run(self._verify_sync, self._dummy, password)

    def _verify_sync(self, stored: str, password: str) -> bool:
        # "surrogatepass": a lone surrogate (valid JSON, not UTF-8) is a wrong password,
        # never an encoding error; policy refuses such passwords, so none was ever hashed.
        secret = normalize_password(password).encode("utf-8", "surrogatepass")
        try:
            return self.hasher.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
