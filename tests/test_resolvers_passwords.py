"""Password policy (length in code points after NFKC, zxcvbn, nothing derived from the
phone or username, no composition rules) and argon2id hashing."""

from __future__ import annotations

import asyncio
import base64
import random
import string
import time
import unicodedata

import pytest

from resolvers.errors import PasswordTooWeak
from resolvers.passwords import Passwords, check_policy

PHONE = "+14155550123"
POLICY = {"min_length": 8, "max_length": 256}
PRODUCTION = {"memory_kib": 19456, "time_cost": 2, "parallelism": 1}
CHEAP = {"memory_kib": 1024, "time_cost": 1, "parallelism": 1}


def random_password(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    rng = random.Random(length)
    return "".join(rng.choice(alphabet) for _ in range(length))


def refusal(raw: str, context: tuple[str, ...] = ()) -> str:
    with pytest.raises(PasswordTooWeak) as refused:
        check_policy(raw, context=context, **POLICY)
    return refused.value.text


@pytest.fixture
async def passwords():
    hasher = Passwords(**CHEAP, concurrency=2)
    yield hasher
    hasher.close()


# --- policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "violet tractor oboe 77",
        "correcthorsebatterystaple",  # lower case only: no composition rules
        "zebra kettle nimbus",  # words and spaces
        "пароль-пингвин-ёлка",  # any script
        "🦄🐙🌵🍩🚲🎻🦉🧲",  # emoji
        random_password(64),
        random_password(128),
        random_password(256),
    ],
    ids=["words", "lowercase", "spaces", "cyrillic", "emoji", "64", "128", "256"],
)
def test_strong_passwords_of_any_kind_are_accepted(password):
    assert check_policy(password, context=(PHONE,), **POLICY) == unicodedata.normalize(
        "NFKC", password
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tr7$x", "at least 8 characters"),
        (random_password(257), "at most 256 characters"),
        ("password123", "common password"),
        ("qwertyuiop", "common password"),
        ("aaaaaaaaaaaa", "Repeats"),
        ("iloveyou2024", ""),
    ],
)
def test_short_long_and_common_passwords_are_refused_with_a_reason(password, reason):
    text = refusal(password)
    assert reason.lower() in text.lower() and len(text) > 10


@pytest.mark.parametrize(
    ("password", "context"),
    [
        ("4155550123", (PHONE,)),
        ("+14155550123!", (PHONE,)),
        ("my5550123x", (PHONE,)),
        ("Marguerite1", (PHONE, "Marguerite", "marguerite")),
        ("marguerite_2024", (PHONE, "Marguerite", "marguerite")),
    ],
)
def test_passwords_built_from_the_phone_or_username_are_refused(password, context):
    assert refusal(password, context)


def test_length_counts_code_points_after_nfkc():
    # "ﬃ" (one code point) is "ffi" after NFKC; four emoji are 4 characters, not 16 bytes
    assert check_policy("oﬃce kettle 7", **POLICY) == "office kettle 7"
    assert "at least 8" in refusal("🦄🐙🌵🍩")


def test_nfkc_makes_width_and_composition_variants_one_password():
    variants = ["Ｖｉｏｌｅｔ ｔｒａｃｔｏｒ ７７", "Violet tractor 77"]
    composed = unicodedata.normalize("NFC", "crème brûlée forêt")
    decomposed = unicodedata.normalize("NFD", "crème brûlée forêt")
    assert len({check_policy(v, **POLICY) for v in variants}) == 1
    assert check_policy(composed, **POLICY) == check_policy(decomposed, **POLICY)


def test_a_megabyte_password_is_refused_fast():
    started = time.perf_counter()
    text = refusal("x" * 1_000_000)
    assert "at most 256" in text
    assert time.perf_counter() - started < 0.01


def test_a_password_with_a_lone_surrogate_is_refused():
    assert "cannot be stored" in refusal("violet tractor \ud800 oboe")


# --- hashing -----------------------------------------------------------------------------


async def test_hashes_are_argon2id_with_the_configured_cost_and_a_16_byte_salt():
    hasher = Passwords(**PRODUCTION)
    try:
        stored = await hasher.hash("violet tractor oboe 77")
    finally:
        hasher.close()
    _, kind, version, params, salt, digest = stored.split("$")
    assert (kind, version, params) == ("argon2id", "v=19", "m=19456,t=2,p=1")
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "==")) == 32


async def test_no_truncation_a_72_character_prefix_does_not_verify(passwords):
    password = random_password(100)
    stored = await passwords.hash(password)
    assert await passwords.verify(stored, password)
    assert not await passwords.verify(stored, password[:72])
    assert not await passwords.verify(stored, password[:99])


async def test_nfc_and_nfd_spellings_verify_alike(passwords):
    stored = await passwords.hash(check_policy("crème brûlée forêt", **POLICY))
    assert await passwords.verify(stored, unicodedata.normalize("NFD", "crème brûlée forêt"))
    assert await passwords.verify(stored, unicodedata.normalize("NFC", "crème brûlée forêt"))


async def test_a_lone_surrogate_or_garbage_hash_is_just_a_wrong_password(passwords):
    stored = await passwords.hash("violet tractor oboe 77")
    assert not await passwords.verify(stored, "violet \ud800 tractor")
    assert not await passwords.verify("not-a-hash", "violet tractor oboe 77")


async def test_hashes_made_with_lower_costs_need_a_rehash(passwords):
    stored = await passwords.hash("violet tractor oboe 77")
    stronger = Passwords(**PRODUCTION)
    try:
        assert stronger.needs_rehash(stored)
        assert not passwords.needs_rehash(stored)
    finally:
        stronger.close()


async def test_the_dummy_verify_costs_what_a_real_one_does():
    hasher = Passwords(**PRODUCTION, concurrency=1)
    try:
        stored = await hasher.hash("violet tractor oboe 77")

        async def cost(check) -> float:
            started = time.perf_counter()
            for _ in range(5):
                await check()
            return (time.perf_counter() - started) / 5

        real = await cost(lambda: hasher.verify(stored, "wrong password here"))
        dummy = await cost(lambda: hasher.verify_dummy("wrong password here"))
    finally:
        hasher.close()
    assert abs(real - dummy) < max(real, dummy) * 0.5, (real, dummy)


async def test_hashing_runs_off_the_event_loop_with_bounded_concurrency():
    hasher = Passwords(**PRODUCTION, concurrency=1)
    try:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        running = asyncio.create_task(ticker())
        await asyncio.gather(*[hasher.hash(f"password number {i}") for i in range(3)])
        running.cancel()
    finally:
        hasher.close()
    assert hasher.pool._max_workers == 1
    assert ticks > 10  # the loop kept running while three hashes were computed
