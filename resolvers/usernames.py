"""Usernames: NFKC for display; NFKC + casefold + the UTS #39 confusable skeleton for
uniqueness; look-alikes refused.

A username is 3-32 characters: letters of one script, ASCII digits and "._-", starting
with a letter (anything starting with a digit or "+" is read as a phone at login). Control,
format (invisible) and symbol characters are refused, and so are names that mix scripts or
that are written only with Cyrillic or Greek letters that look like Latin ones (Cyrillic
"\u0440\u0430\u0443\u0440\u0430" reads "paypa").

Two names that read the same must be one name. The uniqueness key (`User.username_key`, a
unique column) is the fixpoint of casefold -> NFKC -> confusable skeleton (UTS #39 section 4,
ICU's SpoofChecker on Unicode's confusables data), so "al\u0131ce" (dotless i) and
"\u0430lice" collide with "alice" in the database itself, not only in a check before the
insert. Characters outside UTS #39's identifier profile (Identifier_Status=Allowed: ICU's
recommended set) are refused: default-ignorable ones such as U+034F and the variation
selectors, and Latin letters used only in phonetics (small capitals "\u1d00\u029f\u026a",
"\u0251", the click "\u01c0") that the skeleton alone does not fold. A combining mark left
on a Latin, Greek or Cyrillic letter after NFKC (these scripts write their accents
precomposed) is refused too; scripts that need marks (Devanagari, Thai) keep them.
"""

from __future__ import annotations

import unicodedata

import icu  # ICU's UTS #39 implementation and data (icukit-pyicu bundles ICU)

from resolvers.errors import InputRejected

MIN_LENGTH, MAX_LENGTH = 3, 32
PUNCTUATION = frozenset("._-")
KEY_MAX_LENGTH = 128  # the column's width: a skeleton may be longer than its name ("m" -> "rn")
MAX_MARKS = 3  # combining marks on one letter: enough for Thai or Devanagari, not for Zalgo
# Script of a letter by the first word of its Unicode name; Japanese mixes these freely.
JAPANESE = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC"})
# Scripts whose accented letters are precomposed: a mark left after NFKC is a trick.
PRECOMPOSED_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})
_ALLOWED = icu.SpoofChecker.getRecommendedUnicodeSet()  # UTS #39 Identifier_Status=Allowed
_SPOOF = icu.SpoofChecker()
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
    _check_identifier_profile(display, scripts)
    _check_not_latin_lookalike(_folded(display), scripts)
    return display, uniqueness_key(display)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text.casefold())


def uniqueness_key(display: str) -> str:
    """Casefold, NFKC and skeleton until nothing changes (a skeleton can contain capitals:
    "0" -> "O"); bounded, since each round only maps to prototypes."""
    key = _folded(display)
    for _ in range(4):
        folded = _folded(_SPOOF.getSkeleton(0, key))
        if folded == key:
            break
        key = folded
    if len(key) > KEY_MAX_LENGTH:
        raise InputRejected("username", f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    return key


def _check_identifier_profile(display: str, scripts: set[str]) -> None:
    outside = [ch for ch in display if ch not in PUNCTUATION and not _ALLOWED.contains(ch)]
    if any(_is_mark(ch) for ch in outside):
        raise InputRejected("username", "Use letters without extra invisible marks or accents.")
    if outside:
        raise InputRejected("username", "Use common letters (no phonetic or look-alike ones).")
    if scripts & PRECOMPOSED_SCRIPTS and any(_is_mark(ch) for ch in display):
        raise InputRejected("username", "Write accents as part of their letter (no extra accents).")


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


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _check_not_latin_lookalike(key: str, scripts: set[str]) -> None:
    for script in scripts:
        lookalikes = LATIN_LOOKALIKES.get(script)
        letters = [ch for ch in key if unicodedata.category(ch).startswith("L")]
        if lookalikes and all(ch in lookalikes for ch in letters):
            raise InputRejected("username", "This name could be mistaken for one in Latin letters.")


def looks_like_phone(identifier: str) -> bool:
    stripped = identifier.strip()
    return bool(stripped) and (stripped[0] in "+(\uff0b" or stripped[0].isdigit())
