"""Guessing codes and passwords: aliased bursts, parallel bursts, guess/resend loops,
rotating and spoofed client addresses. Whatever the attacker tries, no session, and the
owner can still reset by SMS."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

from models import VerificationCode
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone
from tests.test_security_support import graphql, limits, postgres_only, typenames

TRUSTED_PROXY = ("127.0.0.1", 40001)  # the default FORWARDED_ALLOW_IPS


def wrong(code: str, offset: int = 1) -> str:
    return f"{(int(code) + offset) % 1_000_000:06d}"


def guesses(phone: str, challenge: str, codes: list[str]) -> str:
    fields = " ".join(
        f'g{i}: verifyPhone(input: {{phone: "{phone}", challenge: "{challenge}", code: "{code}"}})'
        " { __typename }"
        for i, code in enumerate(codes)
    )
    return f"mutation {{ {fields} }}"


def rotating_client() -> dict[str, str]:
    """A fresh client address, as a trusted proxy would name it."""
    return {"X-Forwarded-For": f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.7"}


CHALLENGES: dict[str, str] = {}  # each phone's signup challenge


async def signed_up(api) -> tuple[str, str]:
    phone = new_phone()
    sent = await api.run(d.SIGNUP, {"input": {"phone": phone, "password": STRONG_PASSWORD}})
    CHALLENGES[phone] = sent["challenge"]
    return phone, await api.sms.code(phone, "verify_signup")


def verify_input(phone: str, code: str) -> dict:
    return {"input": {"phone": phone, "challenge": CHALLENGES[phone], "code": code}}


async def login(api, identifier: str, password: str, **headers: str) -> dict:
    variables = {"input": {"identifier": identifier, "password": password}}
    return await api.run(d.LOGIN, variables, headers=headers)


# --- codes -------------------------------------------------------------------------------


async def test_an_aliased_burst_with_the_right_code_inside_yields_no_session(api):
    # given fifteen guesses in one request (the alias limit), the right code tenth
    phone, code = await signed_up(api)
    burst = [wrong(code, i) for i in range(1, 10)] + [code] + [wrong(code, -i) for i in range(5)]
    # when
    answer = await graphql(api, guesses(phone, CHALLENGES[phone], burst))
    # then each alias was a guess of its own: five counted, then the code was dead
    kinds = typenames(answer["data"])
    assert "Session" not in kinds
    assert kinds[:5] == ["InvalidCode"] * 4 + ["TooManyAttempts"]
    assert set(kinds[5:]) == {"TooManyAttempts"}


async def test_thirty_aliased_guesses_with_the_right_code_are_refused_whole(api):
    phone, code = await signed_up(api)
    burst = [wrong(code, i) for i in range(1, 30)]
    burst.insert(17, code)
    answer = await graphql(api, guesses(phone, CHALLENGES[phone], burst))
    assert "data" not in answer and "30 aliases found" in answer["errors"][0]["message"]
    # nothing was tried, so the owner's code still works
    owner = await api.run(d.VERIFY_PHONE, verify_input(phone, code))
    assert owner["__typename"] == "Session"


@postgres_only
async def test_fifty_parallel_wrong_guesses_are_evaluated_at_most_five_times(
    make_settings, start_app, db_kind
):
    async with start_app(make_settings(RATE_LIMITS=limits())) as api:
        # given
        phone, code = await signed_up(api)
        # when fifty different wrong codes race
        answers = await asyncio.gather(
            *[api.run(d.VERIFY_PHONE, verify_input(phone, wrong(code, i))) for i in range(1, 51)]
        )
        # then at most five were weighed, and the right code is dead
        kinds = Counter(a["__typename"] for a in answers)
        assert kinds["InvalidCode"] + kinds["TooManyAttempts"] == 50
        assert kinds["InvalidCode"] <= 5, kinds
        row = await VerificationCode.get(
            purpose="signup", phone=phone, challenge_hash__isnull=False
        )
        assert row.attempts == 5
        final = await api.run(d.VERIFY_PHONE, verify_input(phone, code))
        assert final["__typename"] == "TooManyAttempts"


async def test_guess_resend_loops_never_buy_more_than_five_guesses_per_challenge(
    make_settings, start_app
):
    # given no resend wait
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone, code = await signed_up(api)
        answers: list[str] = []
        # when the attacker guesses five times, asks for a new code, and again
        for round_ in range(4):
            if round_:
                resend = {"phone": phone, "challenge": CHALLENGES[phone]}
                assert (await api.run(d.RESEND, resend))["__typename"] == "VerificationSent"
            for i in range(1, 6):
                guess = verify_input(phone, wrong(code, i))
                answers.append((await api.run(d.VERIFY_PHONE, guess))["__typename"])
        right = await api.run(d.VERIFY_PHONE, verify_input(phone, code))
        await asyncio.sleep(0.1)
        sent = len(api.sms.to(phone, "verify_signup"))
    # then five guesses were weighed in all: a dead code stays dead, and no resend sent one
    assert answers == ["InvalidCode"] * 4 + ["TooManyAttempts"] * 16
    assert right["__typename"] == "TooManyAttempts"
    assert sent == 1


# --- passwords ---------------------------------------------------------------------------


async def test_forty_failed_logins_from_one_client_are_limited(api):
    answers = [
        await login(api, new_phone(), f"guess number {i} x") for i in range(40)
    ]  # each for another account, so only the client's limit applies
    kinds = [a["__typename"] for a in answers]
    assert kinds[:20] == ["InvalidCredentials"] * 20
    assert set(kinds[20:]) == {"RateLimited"}
    assert all(0 < a["retryAfterSeconds"] <= 600 for a in answers[20:])


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(api):
    # given the api's peer is a random loopback address, not a trusted proxy
    kinds = [
        (await login(api, new_phone(), "some guess 1234", **rotating_client()))["__typename"]
        for _ in range(25)
    ]
    assert kinds[:20] == ["InvalidCredentials"] * 20
    assert set(kinds[20:]) == {"RateLimited"}


async def test_a_trusted_proxy_names_the_client(make_settings, start_app):
    async with start_app(make_settings(), client=TRUSTED_PROXY) as api:
        # when each request comes from another client behind the proxy
        spread = [
            (await login(api, new_phone(), "some guess 1234", **rotating_client()))["__typename"]
            for _ in range(25)
        ]
        # when one client prepends addresses of its choice (the proxy appends the real one)
        spoofed = [
            (
                await login(
                    api,
                    new_phone(),
                    "some guess 1234",
                    **{"X-Forwarded-For": f"{rotating_client()['X-Forwarded-For']}, 127.66.6.6"},
                )
            )["__typename"]
            for _ in range(25)
        ]
    assert set(spread) == {"InvalidCredentials"}
    assert spoofed[:20] == ["InvalidCredentials"] * 20 and set(spoofed[20:]) == {"RateLimited"}


async def test_wrong_passwords_from_rotating_addresses_lock_the_account_not_the_owners_reset(
    make_settings, start_app
):
    async with start_app(make_settings(), client=TRUSTED_PROXY) as api:
        # given an account, attacked from a new address each time
        phone = new_phone()
        await signup_verified(api, phone)
        attempts = [
            (await login(api, phone, f"guess {i} tractor", **rotating_client()))["__typename"]
            for i in range(8)
        ]
        # when the owner comes with the right password
        owner = await login(api, phone, STRONG_PASSWORD, **rotating_client())
        # then past the growing wait the owner steps up to an SMS code, and a reset by SMS
        # still works
        sent = await api.run(d.REQUEST_RESET, {"phone": phone}, headers=rotating_client())
        code = await api.sms.code(phone, "reset_password")
        reset = await api.run(
            d.RESET_PASSWORD,
            {
                "input": {
                    "phone": phone,
                    "challenge": sent["challenge"],
                    "code": code,
                    "newPassword": OTHER_PASSWORD,
                }
            },
            headers=rotating_client(),
        )
        after = await login(api, phone, OTHER_PASSWORD, **rotating_client())
    assert attempts == ["InvalidCredentials"] * 5 + ["SecondFactorRequired"] * 3
    assert owner["__typename"] == "SecondFactorRequired"
    assert sent["__typename"] == "ResetCodeSent" and reset["__typename"] == "PasswordReset"
    assert after["__typename"] == "Session"


async def test_a_hundred_failed_logins_a_day_step_the_account_up(make_settings, start_app):
    # given no growing waits, only the day's cap (default 100), from rotating addresses
    settings = make_settings(RATE_LIMITS="password_failures_per_account=100000/minute")
    async with start_app(settings, client=TRUSTED_PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone, username="Daycap")
        kinds = Counter()
        for i in range(100):
            answer = await login(api, phone, f"guess {i} lantern", **rotating_client())
            kinds[answer["__typename"]] += 1
        # a count per identifier typed: the username's own is untouched (a shared count
        # would tell which phone goes with the username)
        by_name = await login(api, "daycap", "one more guess 1", **rotating_client())
        owner = await login(api, phone, STRONG_PASSWORD, **rotating_client())
    assert kinds == {"InvalidCredentials": 100}
    assert by_name["__typename"] == "InvalidCredentials"
    assert owner["__typename"] == "SecondFactorRequired"


async def test_fifty_parallel_wrong_passwords_are_held_to_the_growing_wait(
    make_settings, start_app
):
    async with start_app(make_settings(), client=TRUSTED_PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        answers = await asyncio.gather(
            *[login(api, phone, f"guess {i} tractor", **rotating_client()) for i in range(50)]
        )
    kinds = Counter(a["__typename"] for a in answers)
    assert kinds["InvalidCredentials"] <= 5 and kinds["SecondFactorRequired"] >= 45, kinds
