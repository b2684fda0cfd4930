"""glibc tuning for long-lived workers: one malloc arena, freed pages handed back.

Both are no-ops off glibc (the functions are looked up once; ``LIBC`` is None elsewhere).
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - present on glibc only
    except (OSError, AttributeError):
        return None
    return libc


LIBC = _glibc()


def return_freed_memory() -> None:
    """Free pages inside the malloc heap go back to the OS (glibc keeps them otherwise)."""
    if LIBC is not None:
        LIBC.malloc_trim(0)


def one_malloc_arena() -> None:
    """One glibc malloc arena per process, before any thread starts (workers started later
    inherit it through MALLOC_ARENA_MAX). With the default (one per thread) every argon2
    thread keeps its last ARGON2_MEMORY_KIB block after a burst of signups: +19 MiB per
    thread at idle. Hashing is as fast either way (measured with bench/run.py)."""
    os.environ.setdefault("MALLOC_ARENA_MAX", "1")
    if LIBC is not None:
        LIBC.mallopt(M_ARENA_MAX, int(os.environ["MALLOC_ARENA_MAX"]))
