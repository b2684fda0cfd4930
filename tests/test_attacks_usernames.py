"""The attacker's suite, usernames: a name that reads like an existing one never becomes a
second account (issue 11, item 7). Beside a verified "alice...", each look-alike spelling is
refused (InvalidInput on "username") or taken (UsernameTaken), at signup, in
usernameAvailable and in changeIdentity; logging in with a look-alike reaches the real owner's
account, whose password the attacker does not have."""

from __future__ import annotations

import secrets

import pytest

from models import User
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone

# Each turns the "alice" at the start of a name into a spelling that reads the same.
LOOK_ALIKES = {
    "combining grapheme joiner": lambda n: n[:5] + "\u034f" + n[5:],
    "variation selector 16": lambda n: n[:5] + "\ufe0f" + n[5:],
    "small capitals": lambda n: "\u1d00\u029f\u026a\u1d04\u1d07" + n[5:],
    "dotless i": lambda n: "al\u0131ce" + n[5:],
    "latin alpha": lambda n: "\u0251lice" + n[5:],
    "dental click for l": lambda n: "a\u01c0ice" + n[5:],
    "digit one for l": lambda n: "a1ice" + n[5:],
    "combining acute after NFC": lambda n: "alic\u0065\u0301\u0301" + n[5:],
    "fullwidth capitals": lambda n: "\uff21\uff2c\uff29\uff23\uff25" + n[5:],
}


def alice() -> str:
    """A fresh name starting with "alice" (the suite's database is shared between tests)."""
    return "alice" + "".join(secrets.choice("bdfhkqtwxz") for _ in range(8))


@pytest.mark.parametrize("spell", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
async def test_a_look_alike_of_a_taken_username_never_becomes_a_second_account(api, spell):
    # given
    name = alice()
    await signup_verified(api, username=name)
    look_alike = spell(name)
    # when
    signup = await api.run(
        d.SIGNUP,
        {"input": {"phone": new_phone(), "password": OTHER_PASSWORD, "username": look_alike}},
    )
    available = await api.run(d.USERNAME_AVAILABLE, {"u": look_alike})
    # then
    assert signup["__typename"] in {"UsernameTaken", "InvalidInput"}, signup
    assert signup.get("field", "username") == "username"
    assert available is False
    assert await User.filter(username=look_alike).count() == 0


@pytest.mark.parametrize("spell", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
async def test_a_look_alike_of_a_taken_username_cannot_be_taken_by_identity_change(api, spell):
    # given
    name = alice()
    await signup_verified(api, username=name)
    attacker = await signup_verified(api, username=alice())
    # when
    changed = await api.run(
        d.CHANGE_IDENTITY,
        {"input": {"currentPassword": STRONG_PASSWORD, "username": spell(name)}},
        token=attacker["accessToken"],
    )
    # then
    assert changed["__typename"] in {"UsernameTaken", "InvalidInput"}, changed


async def test_login_with_a_look_alike_reaches_the_owner_and_needs_the_owners_password(api):
    # given
    name = alice()
    owner = await signup_verified(api, username=name)
    look_alike = "al\u0131ce" + name[5:]
    # when
    right = await api.run(
        d.LOGIN, {"input": {"identifier": look_alike, "password": STRONG_PASSWORD}}
    )
    wrong = await api.run(
        d.LOGIN, {"input": {"identifier": look_alike, "password": OTHER_PASSWORD}}
    )
    # then
    assert right["__typename"] == "Session" and right["user"]["id"] == owner["user"]["id"]
    assert wrong["__typename"] == "InvalidCredentials"


async def test_a_name_that_only_looks_like_another_after_case_folding_is_one_name(api):
    # given: the skeleton maps "0" to "O"; after folding "b0b..." and "bob..." read alike
    tail = "".join(secrets.choice("dfhkqtwxz") for _ in range(8))
    await signup_verified(api, username=f"bob{tail}")
    # when
    signup = await api.run(
        d.SIGNUP,
        {"input": {"phone": new_phone(), "password": OTHER_PASSWORD, "username": f"b0b{tail}"}},
    )
    # then
    assert signup["__typename"] == "UsernameTaken"
