"""Usernames: NFKC + casefold before uniqueness; control, invisible, symbol, mixed-script and
Latin look-alike names refused, each with the reason on the "username" field."""

from __future__ import annotations

import pytest

from resolvers.errors import InputRejected
from resolvers.usernames import looks_like_phone, normalize_username


def key(raw: str) -> str:
    return normalize_username(raw)[1]


def refusal(raw: str) -> str:
    with pytest.raises(InputRejected) as refused:
        normalize_username(raw)
    assert refused.value.field == "username"
    return refused.value.text


@pytest.mark.parametrize(
    "username",
    [
        "alice",
        "Alice_1",
        "j.doe-92",
        "éclair",
        "mañana",
        "Ольга",  # Cyrillic, with letters no Latin one looks like
        "Ελένη",
        "ラーメン",  # katakana with the prolonged sound mark
        "山田々",  # kanji with the iteration mark
        "田中さん",  # kanji and hiragana
        "मराठी",  # Devanagari vowel signs are marks
        "한국어",
        "עברית",
    ],
)
def test_names_in_one_script_are_accepted(username):
    display, _ = normalize_username(username)
    assert display == username


@pytest.mark.parametrize(
    "variants",
    [
        ["Kate", "KATE", "kate", "Ｋａｔｅ", "𝐊𝐚𝐭𝐞"],
        ["Straße", "STRASSE", "strasse"],
        ["éclair", "e\u0301clair", "ÉCLAIR"],
        ["finance", "ﬁnance"],
    ],
    ids=["case-width-math", "eszett", "composition", "ligature"],
)
def test_spellings_of_one_name_share_one_key(variants):
    assert len({key(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("ab", "3 to 32"),
        ("a" * 33, "3 to 32"),
        ("a" * 10_000, "3 to 32"),
        ("al\u200bice", "no spaces or symbols"),  # zero-width space
        ("al\u200dice", "no spaces or symbols"),  # zero-width joiner
        ("al\u202eice", "no spaces or symbols"),  # right-to-left override
        ("al\u00adice", "no spaces or symbols"),  # soft hyphen
        ("al\x00ice", "no spaces or symbols"),
        ("al\nice", "no spaces or symbols"),
        ("al ice", "no spaces or symbols"),
        ("al@ice", "no spaces or symbols"),
        ("al💥ice", "no spaces or symbols"),
        ("pаypal", "mix"),  # a Cyrillic a among Latin letters
        ("paypaӏ", "mix"),  # Cyrillic palochka for "l"
        ("ΑΡΡLE", "mix"),  # Greek capitals with Latin "LE"
        ("раура", "mistaken"),  # all Cyrillic, all drawn like Latin letters
        ("ΚΟΚΟ", "mistaken"),  # all Greek, likewise
        ("7eleven", "Start with a letter"),  # read as a phone at login
        ("+alice", "Start with a letter"),
        ("_alice", "Start with a letter"),
        ("xa\u0301\u0302\u0303\u0304\u0305bc", "accents"),  # stacked combining marks
        ("al\ud800ice", "no spaces or symbols"),
    ],
)
def test_unsafe_names_are_refused_with_a_reason(username, reason):
    assert reason in refusal(username)


def test_what_starts_like_a_phone_is_read_as_one_at_login():
    assert all(looks_like_phone(s) for s in ("+14155550123", "(415) 555", "４１５", "＋1"))
    assert not any(looks_like_phone(s) for s in ("alice", "", "  "))


@pytest.mark.parametrize(
    "look_alike",
    ["al\u0131ce", "a1ice", "ALICE", "\uff41lice"],
    ids=["dotless-i", "one", "caps", "fullwidth"],
)
def test_names_that_read_alike_share_the_confusable_skeleton_key(look_alike):
    assert key(look_alike) == key("alice")


@pytest.mark.parametrize(
    "username",
    [
        "alice\u034f",  # combining grapheme joiner (default-ignorable)
        "alice\ufe0f",  # variation selector 16
        "\u1d00\u029f\u026a\u1d04\u1d07",  # small capitals
        "\u0251lice",  # latin alpha
        "a\u01c0ice",  # dental click
        "alic\u00e9\u0301",  # a combining mark left on a Latin letter after NFKC
    ],
)
def test_characters_outside_the_identifier_profile_are_refused(username):
    assert refusal(username)


def test_the_skeleton_of_a_long_name_can_be_longer_than_the_name():
    # "m" has the skeleton "rn": 32 of them need 64 characters, within the column's 128
    assert len(key("m" * 32)) == 64
