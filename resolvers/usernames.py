"""Usernames: NFKC for display, NFKC + casefold for uniqueness; look-alikes refused."""

from __future__ import annotations

import unicodedata

from resolvers.errors import InputRejected

MIN_LENGTH, MAX_LENGTH = 3, 32
PUNCTUATION = frozenset("._-")


def normalize_username(raw: str) -> tuple[str, str]:
    """(display form, uniqueness key), or InputRejected(field="username")."""
    if len(raw) > MAX_LENGTH * 4:
        raise InputRejected("username", f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    display = unicodedata.normalize("NFKC", raw).strip()
    if not MIN_LENGTH <= len(display) <= MAX_LENGTH:
        raise InputRejected("username", f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    scripts: set[str] = set()
    for ch in display:
        category = unicodedata.category(ch)
        if ch in PUNCTUATION or ("0" <= ch <= "9"):
            continue
        if category.startswith("L"):
            scripts.add(_script(ch))
        elif not category.startswith("M"):
            raise InputRejected(
                "username", "Use letters, digits, '.', '_' or '-' (no spaces or symbols)."
            )
    if len(scripts) > 1:
        raise InputRejected("username", "Do not mix alphabets in one username.")
    if display[0] in PUNCTUATION:
        raise InputRejected("username", "Start with a letter or digit.")
    return display, unicodedata.normalize("NFKC", display.casefold())


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "UNKNOWN")
    first = name.split(" ", 1)[0]
    # CJK ideographs and kana mix legitimately in Japanese names.
    return "CJK" if first in {"CJK", "HIRAGANA", "KATAKANA"} else first


def looks_like_phone(identifier: str) -> bool:
    stripped = identifier.strip()
    return bool(stripped) and (stripped[0] in "+(\uff0b" or stripped[0].isdigit())
