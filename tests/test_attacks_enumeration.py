"""The attacker's suite: enumeration side channels (issue 11, finding 3).

Before the fix: signup with a taken username answered UsernameTaken only for unregistered
phones; a used code answered InvalidCode forever while an unknown phone reached
TooManyAttempts; resetPassword refused a password "derived from your username" before
checking the code; the per-account login limit bit only for the phone owning a username.
Now no answer, limit or timing tells whether a phone is registered or whose username is
whose. Timing is compared by medians over 100+ requests a side, interleaved."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import pytest

from tests.attack_support import (
    NO_WAIT,
    PROXY,
    login,
    request_reset,
    reset,
    signup,
    step_up,
    verify,
)
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone

TIMING_SAMPLES = 120
TIMING_BOUND_MS = 10.0  # SECURITY.md: medians within 10 ms


async def test_a_taken_username_answers_the_same_whatever_the_phone(make_settings, start_app):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        owner_phone = new_phone()
        await signup_verified(api, owner_phone, username="Hidden_One")
        with_owner_phone = await signup(api, owner_phone, OTHER_PASSWORD, "hidden_one")
        with_other_phone = await signup(api, new_phone(), OTHER_PASSWORD, "hidden_one")
        assert with_owner_phone == with_other_phone
        assert with_owner_phone["__typename"] == "UsernameTaken"


async def test_registered_used_and_unknown_answer_alike_too_many_attempts_included(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        registered, unknown = new_phone(), new_phone()
        await signup_verified(api, registered)
        # a used reset code: the owner's own, completed
        used = await request_reset(api, registered)
        code = await api.sms.code(registered, "reset_password")
        assert (await reset(api, registered, used["challenge"], code, OTHER_PASSWORD))[
            "__typename"
        ] == "PasswordReset"
        fresh = await request_reset(api, registered)
        nobody = await request_reset(api, unknown)

        async def guesses(phone: str, challenge: str) -> list[str]:
            return [
                (await reset(api, phone, challenge, code, "brand new pass 42"))["__typename"]
                for _ in range(6)
            ]

        expected = ["InvalidCode"] * 4 + ["TooManyAttempts"] * 2
        assert await guesses(registered, used["challenge"]) == expected  # even the right code
        assert await guesses(unknown, nobody["challenge"]) == expected
        if (await api.sms.code(registered, "reset_password", count=2)) != code:
            assert await guesses(registered, fresh["challenge"]) == expected
        # and the same for a used signup code
        signup_phone = new_phone()
        sent = await signup(api, signup_phone)
        signup_code = await api.sms.code(signup_phone, "verify_signup")
        assert (await verify(api, signup_phone, sent["challenge"], signup_code))[
            "__typename"
        ] == "Session"
        again = [
            (await verify(api, signup_phone, sent["challenge"], signup_code))["__typename"]
            for _ in range(6)
        ]
        assert again == expected


async def test_reset_checks_the_code_before_the_password_so_no_username_leaks(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone, unknown = new_phone(), new_phone()
        await signup_verified(api, phone, username="Secretive")
        derived = "secretive2024"  # derived from the username: refused as weak, but later
        mine = await request_reset(api, phone)
        nobody = await request_reset(api, unknown)
        to_registered = await reset(api, phone, mine["challenge"], "000000", derived)
        to_unknown = await reset(api, unknown, nobody["challenge"], "000000", derived)
        assert to_registered == to_unknown and to_registered["__typename"] == "InvalidCode"
        # the right code with a weak password: refused, and the code stays usable
        code = await api.sms.code(phone, "reset_password")
        if code != "000000":
            weak = await reset(api, phone, mine["challenge"], code, derived)
            assert weak["__typename"] == "WeakPassword"
            done = await reset(api, phone, mine["challenge"], code, OTHER_PASSWORD)
            assert done["__typename"] == "PasswordReset"


async def test_failed_logins_by_username_do_not_mark_the_phone_that_owns_it(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        owner_phone, other_phone = new_phone(), new_phone()
        await signup_verified(api, owner_phone, username="Linked")
        await signup_verified(api, other_phone)
        for i in range(25):  # past the per-account limits, from rotating addresses
            await login(api, "linked", f"wrong guess {i}")
        owner = await login(api, owner_phone, "a wrong password")
        other = await login(api, other_phone, "a wrong password")
        assert owner == other and owner["__typename"] == "InvalidCredentials"
        assert (await login(api, owner_phone, STRONG_PASSWORD))["__typename"] == "Session"


async def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def test_signup_and_reset_timing_do_not_tell_a_registered_phone(make_settings, start_app):
    limits = (
        "sms_per_phone=100000/minute,sms_per_client=100000/minute,"
        "sms_per_prefix=100000/minute,sms_global=100000/minute"
    )
    settings = make_settings(**NO_WAIT, RATE_LIMITS=limits)
    async with start_app(settings, client=PROXY) as api:
        # one phone of each kind, asked about again and again (so both sides have the same
        # number of rows and limit entries per phone)
        registered, unregistered = new_phone(), new_phone()
        await signup_verified(api, registered)
        timings: dict[str, list[float]] = {"signup registered": [], "signup new": []}
        timings |= {"reset registered": [], "reset unknown": []}
        calls = {
            "signup registered": lambda: signup(api, registered, OTHER_PASSWORD),
            "signup new": lambda: signup(api, unregistered, OTHER_PASSWORD),
            "reset registered": lambda: request_reset(api, registered),
            "reset unknown": lambda: request_reset(api, unregistered),
        }
        for _ in range(TIMING_SAMPLES):
            # interleaved in a random order, so load and the outbox's sending after each
            # request fall on every side alike
            for name in random.sample(list(calls), len(calls)):
                started = time.perf_counter()
                answer = await calls[name]()
                timings[name].append(time.perf_counter() - started)
                assert answer["__typename"] in ("VerificationSent", "ResetCodeSent"), answer
        medians = {name: await _median_ms(samples) for name, samples in timings.items()}
        print("medians (ms) over", TIMING_SAMPLES, "each:", medians)
        assert abs(medians["signup registered"] - medians["signup new"]) < TIMING_BOUND_MS
        assert abs(medians["reset registered"] - medians["reset unknown"]) < TIMING_BOUND_MS


@pytest.mark.parametrize("cooldown", ["60", "0"], ids=["within-resend-wait", "code-sent"])
async def test_while_stepped_up_timing_does_not_tell_a_right_password(
    make_settings, start_app, cooldown
):
    # A guesser who has stepped an account up still sees SecondFactorRequired for every
    # password; the time the answer takes must not tell the right one either. The right
    # password either rebinds the live code (within its resend wait) or sends a new one.
    limits = (
        "sms_per_phone=100000/minute,sms_per_client=100000/minute,"
        "sms_per_prefix=100000/minute,sms_global=100000/minute"
    )
    settings = make_settings(RESEND_COOLDOWN_SECONDS=cooldown, RATE_LIMITS=limits)
    async with start_app(settings, client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await step_up(api, phone)
        timings: dict[str, list[float]] = {"right": [], "wrong": []}
        passwords = {"right": STRONG_PASSWORD, "wrong": OTHER_PASSWORD}

        async def timed(name: str) -> None:
            started = time.perf_counter()
            answer = await login(api, phone, passwords[name])
            timings[name].append(time.perf_counter() - started)
            assert answer["__typename"] == "SecondFactorRequired", answer

        # four of each side at a time, in a random order: the answers are held to a floor
        # (sessions.STEP_UP_ANSWER_FLOOR_SECONDS), so one at a time would take a minute
        for _ in range(TIMING_SAMPLES // 4):
            await asyncio.gather(*map(timed, random.sample(["right", "wrong"] * 4, 8)))
        medians = {name: await _median_ms(samples) for name, samples in timings.items()}
        print("stepped-up login medians (ms) over", TIMING_SAMPLES, "each:", medians)
        assert abs(medians["right"] - medians["wrong"]) < TIMING_BOUND_MS
