"""Usernames: NFKC for display, NFKC + casefold for uniqueness; look-alikes refused.

A username is 3-32 characters: letters of one script, ASCII digits and "._-", starting
with a letter (anything starting with a digit or "+" is read as a phone at login). Control,
format (invisible) and symbol characters are refused, and so are names that mix scripts or
that are written only with Cyrillic or Greek letters that look like Latin ones (Cyrillic
"\u0440\u0430\u0443\u0440\u0430" reads "paypa").
"""

from __future__ import annotations

import unicodedata

from resolvers.errors import InputRejected

MIN_LENGTH, MAX_LENGTH = 3, 32
PUNCTUATION = frozenset("._-")
MAX_MARKS = 3  # combining marks on one letter: enough for Thai or Devanagari, not for Zalgo
# Script of a letter by the first word of its Unicode name; Japanese mixes these freely.
JAPANESE = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC"})
# Lower-case (casefolded) letters drawn like Latin ones, in upper or lower case.
LATIN_LOOKALIKES = {
    "CYRILLIC": frozenset("авекмнорстухѕіјԁԛԝһүӏ"),
    "GREEK": frozenset("αβεζηικμνορτυχ"),
}


def normalize_username(raw: str) -> tuple[str, str]:
    """(display form, uniqueness key), or InputRejected(field="username")."""
    if len(raw) > MAX_LENGTH * 4:
        raise InputRejected("username", f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    display = unicodedata.normalize("NFKC", raw).strip()
    if not MIN_LENGTH <= len(display) <= MAX_LENGTH:
        raise InputRejected("username", f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    if not unicodedata.category(display[0]).startswith("L"):
        raise InputRejected("username", "Start with a letter.")
    scripts = _scripts(display)
    if len(scripts) > 1:
        raise InputRejected("username", "Do not mix alphabets in one username.")
    key = unicodedata.normalize("NFKC", display.casefold())
    _check_not_latin_lookalike(key, scripts)
    return display, key


def _scripts(display: str) -> set[str]:
    """The scripts of the letters; InputRejected for anything but letters, marks on a
    letter, ASCII digits and "._-"."""
    scripts: set[str] = set()
    marks = 0
    for ch in display:
        category = unicodedata.category(ch)
        marks = marks + 1 if category.startswith("M") else 0
        if marks > MAX_MARKS:
            raise InputRejected("username", "Too many accents on one letter.")
        if category.startswith("L"):
            scripts.add(_script(ch))
        elif not (category.startswith("M") or ch in PUNCTUATION or "0" <= ch <= "9"):
            raise InputRejected(
                "username", "Use letters, digits, '.', '_' or '-' (no spaces or symbols)."
            )
    return scripts


def _script(ch: str) -> str:
    first = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return "CJK" if first in JAPANESE else first


def _check_not_latin_lookalike(key: str, scripts: set[str]) -> None:
    for script in scripts:
        lookalikes = LATIN_LOOKALIKES.get(script)
        letters = [ch for ch in key if unicodedata.category(ch).startswith("L")]
        if lookalikes and all(ch in lookalikes for ch in letters):
            raise InputRejected("username", "This name could be mistaken for one in Latin letters.")


def looks_like_phone(identifier: str) -> bool:
    stripped = identifier.strip()
    return bool(stripped) and (stripped[0] in "+(\uff0b" or stripped[0].isdigit())
