"""The attacker's suite: targeted lockout knowing only a phone number (issue 11, finding 2).

Before the fix 100 wrong verifyPhone guesses against a verified phone made its owner's right
password answer RateLimited for a day, and resends that sent nothing spent the owner's SMS
budget. Now a wrong guess counts against its challenge's code and the client only, and an
account under password guessing steps up to an SMS code instead of refusing its owner."""

from __future__ import annotations

import asyncio

from core.masking import mask_phone
from tests import documents as d
from tests.attack_support import (
    NO_WAIT,
    PROXY,
    client,
    login,
    request_reset,
    reset,
    signup,
    step_up,
    verify,
)
from tests.conftest import signup_verified
from tests.support import STRONG_PASSWORD, new_phone


async def test_a_hundred_wrong_code_guesses_do_not_stop_the_owner_logging_in(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        # given a verified account, and a stranger who knows only its phone number
        phone = new_phone()
        await signup_verified(api, phone)
        # when the stranger makes 100 wrong guesses from rotating addresses: five on each
        # challenge they can get for the phone (signup and reset), the rest on invented ones
        answers = []
        # the phone's SMS budget (5 in 10 min) allows three more: the owner's signup spent
        # one on its code and one on its notice
        for _ in range(2):
            sent = await signup(api, phone, "stranger password 1")
            for i in range(5):
                answers.append(await verify(api, phone, sent["challenge"], f"00000{i}"))
        for _ in range(1):
            sent = await request_reset(api, phone)
            for i in range(5):
                answers.append(
                    await reset(api, phone, sent["challenge"], f"00000{i}", "new pass 1234")
                )
        for i in range(85):
            answers.append(await verify(api, phone, f"invented-{i}", "123456"))
        assert len(answers) == 100
        assert {a["__typename"] for a in answers} == {"InvalidCode", "TooManyAttempts"}
        # then nothing about the account changed: the owner's right password just works
        assert (await login(api, phone, STRONG_PASSWORD))["__typename"] == "Session"


async def test_many_failed_logins_step_the_owner_up_to_an_sms_code_never_refuse(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        # given 30 wrong passwords from rotating addresses (past the per-account limits)
        await step_up(api, phone)
        # when the owner logs in with the right password
        owner = await login(api, phone, STRONG_PASSWORD)
        # then they are asked for a code, sent by SMS, and get in with it
        assert owner["__typename"] == "SecondFactorRequired"
        code = await api.sms.code(phone, "login_code")
        done = await api.run(
            d.VERIFY_LOGIN, {"input": {"challenge": owner["challenge"], "code": code}}
        )
        assert done["__typename"] == "Session"


async def test_a_guesser_past_the_limit_gets_an_answer_like_the_owners_and_never_gets_in(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await step_up(api, phone)
        guesser = await login(api, phone, "yet another guess")
        owner = await login(api, phone, STRONG_PASSWORD)
        # the same shape of answer: a right password cannot be told from a wrong one
        assert guesser["__typename"] == owner["__typename"] == "SecondFactorRequired"
        assert guesser["sentTo"] == owner["sentTo"]
        assert len(api.sms.to(phone, "login_code")) <= 1  # only the owner's login sent one
        tries = [
            (
                await api.run(
                    d.VERIFY_LOGIN,
                    {"input": {"challenge": guesser["challenge"], "code": f"{i:06d}"}},
                    headers=client(),
                )
            )["__typename"]
            for i in range(6)
        ]
        assert "Session" not in tries and tries[-1] == "TooManyAttempts"


async def test_resends_that_send_nothing_do_not_spend_the_owners_login_codes(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone = new_phone()
        session = await signup_verified(api, phone)
        await api.run(
            d.SET_TWO_FACTOR,
            {"input": {"currentPassword": STRONG_PASSWORD, "enabled": True}},
            token=session["accessToken"],
        )
        # given a stranger's signup probe and a dozen resends of it (none sends anything)
        probe = await signup(api, phone, "stranger password 1")
        for _ in range(12):
            await api.run(
                d.RESEND, {"phone": phone, "challenge": probe["challenge"]}, headers=client()
            )
        # when the owner logs in, then the login code still goes out
        owner = await login(api, phone, STRONG_PASSWORD)
        assert owner["__typename"] == "SecondFactorRequired"
        await api.sms.wait(phone, "login_code")


async def login_methods(api, identifier, password):
    variables = {"input": {"identifier": identifier, "password": password}}
    return await api.run(d.LOGIN_METHODS, variables, headers=client())


def shown(answer: dict) -> tuple:
    """What a stepped-up login answer shows, beside its (always fresh) challenge."""
    return answer["__typename"], answer.get("sentTo"), tuple(answer.get("methods") or ())


async def test_while_stepped_up_no_answer_tells_a_totp_account_or_a_right_password(
    make_settings, start_app
):
    from tests.test_api_second_factors import enrol

    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        # given: an account with an authenticator app and a username, and an unknown phone
        phone, unknown = new_phone(), new_phone()
        session = await signup_verified(api, phone, username="totp_owner")
        _, recovery_codes = await enrol(api, session)
        # when a stranger steps all three identifiers up with wrong passwords
        for identifier in (phone, unknown, "totp_owner"):
            await step_up(api, identifier)
        wrong_phone = await login_methods(api, phone, "one more guess")
        wrong_unknown = await login_methods(api, unknown, "one more guess")
        wrong_name = await login_methods(api, "totp_owner", "one more guess")
        right_name = await login_methods(api, "totp_owner", STRONG_PASSWORD)
        right_phone = await login_methods(api, phone, STRONG_PASSWORD)
        # then: a registered phone with TOTP answers like an unknown one, and a right
        # password like a wrong one (before, the methods and sentTo told them apart)
        assert shown(wrong_phone)[1:] == shown(right_phone)[1:]
        assert shown(wrong_phone)[2] == shown(wrong_unknown)[2] != ()
        assert wrong_phone["sentTo"] == mask_phone(phone)
        assert wrong_unknown["sentTo"] == mask_phone(unknown)
        assert shown(wrong_name) == shown(right_name)
        assert shown(wrong_unknown)[0] == "SecondFactorRequired"
        # and the owner still gets in with a second factor of the account (a recovery code:
        # the app's current code was spent by the enrolment, and a step is never replayed)
        done = await api.run(
            d.VERIFY_LOGIN,
            {
                "input": {
                    "challenge": right_phone["challenge"],
                    "code": recovery_codes[0],
                    "method": "RECOVERY_CODE",
                }
            },
        )
        assert done["__typename"] == "Session", done


async def test_while_stepped_up_a_usernames_answer_tells_no_right_password(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        # given: an account with a username and SMS as its only factor, stepped up
        phone = new_phone()
        await signup_verified(api, phone, username="sms_owner")
        await step_up(api, "sms_owner")
        # when
        wrong = await login_methods(api, "sms_owner", "one more guess")
        right = await login_methods(api, "sms_owner", STRONG_PASSWORD)
        # then: the same answer (before, the right one showed the real phone's mask and the
        # wrong one a made-up number), and the owner's code still arrives and works
        assert (
            shown(wrong)
            == shown(right)
            == (
                "SecondFactorRequired",
                None,
                ("SMS", "TOTP", "RECOVERY_CODE"),
            )
        )
        code = await api.sms.code(phone, "login_code")
        done = await api.run(
            d.VERIFY_LOGIN, {"input": {"challenge": right["challenge"], "code": code}}
        )
        assert done["__typename"] == "Session", done


async def test_while_stepped_up_parallel_right_passwords_answer_like_wrong_ones(
    make_settings, start_app
):
    # Before: of two logins with the right password at once, the one that lost the race to
    # send the code answered RateLimited ("Wait before asking for another code."), which a
    # wrong password never does: two parallel tries told a right password.
    async with start_app(make_settings(), client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await step_up(api, phone)
        # when a guesser tries each candidate four times at once
        wrong = await asyncio.gather(*[login_methods(api, phone, "a guess") for _ in range(4)])
        right = await asyncio.gather(
            *[login_methods(api, phone, STRONG_PASSWORD) for _ in range(4)]
        )
        # then every answer looks alike
        assert {shown(a) for a in wrong} == {shown(a) for a in right}, (wrong, right)
        assert shown(right[0])[0] == "SecondFactorRequired"
        # and the owner's one code completes the latest of the right password's challenges
        # (each rebinding of the live code replaces the challenge before it)
        code = await api.sms.code(phone, "login_code")
        done = [
            (await api.run(d.VERIFY_LOGIN, {"input": {"challenge": a["challenge"], "code": code}}))[
                "__typename"
            ]
            for a in right
        ]
        assert done.count("Session") == 1, done
        assert len(api.sms.to(phone, "login_code")) == 1


async def test_while_stepped_up_a_locked_code_does_not_make_the_right_password_wait(
    make_settings, start_app
):
    # Before: with the right password's code locked by wrong guesses, another try with it
    # within the resend wait answered RateLimited, and a wrong password never does.
    async with start_app(make_settings(), client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await step_up(api, phone)

        async def lock(answer: dict) -> None:  # five wrong codes on the challenge
            for i in range(5):
                await api.run(
                    d.VERIFY_LOGIN,
                    {"input": {"challenge": answer["challenge"], "code": f"{i:06d}"}},
                    headers=client(),
                )

        # when a guesser locks each candidate's challenge, then tries the candidate again
        answers = {}
        for name, password in (("wrong", "a guess"), ("right", STRONG_PASSWORD)):
            await lock(await login_methods(api, phone, password))
            answers[name] = await login_methods(api, phone, password)
        # then the two look alike
        assert shown(answers["wrong"]) == shown(answers["right"]), answers
        assert shown(answers["right"])[0] == "SecondFactorRequired"


async def test_while_stepped_up_a_totp_accounts_right_password_spends_the_client_budget_alike(
    make_settings, start_app
):
    # Before: a wrong password's decoy counted an SMS against the client, the right password
    # of an account with only an authenticator app did not; with the client's SMS budget
    # spent, the wrong one answered RateLimited and the right one SecondFactorRequired.
    from tests.test_api_second_factors import enrol

    settings = make_settings(RATE_LIMITS="sms_per_client=3/10 minutes")
    async with start_app(settings, client=PROXY) as api:
        phone = new_phone()
        session = await signup_verified(api, phone)
        await enrol(api, session)
        await step_up(api, phone)
        answers = {}
        for name, password in (("wrong", "a guess"), ("right", STRONG_PASSWORD)):
            guesser = client()  # one address for each candidate, its SMS budget spent first
            for _ in range(3):
                await login(api, phone, "another guess", **guesser)
            answers[name] = await login(api, phone, password, **guesser)
        assert answers["wrong"]["__typename"] == answers["right"]["__typename"], answers
