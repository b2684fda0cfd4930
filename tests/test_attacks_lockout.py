"""The attacker's suite: targeted lockout knowing only a phone number (issue 11, finding 2).

Before the fix 100 wrong verifyPhone guesses against a verified phone made its owner's right
password answer RateLimited for a day, and resends that sent nothing spent the owner's SMS
budget. Now a wrong guess counts against its challenge's code and the client only, and an
account under password guessing steps up to an SMS code instead of refusing its owner."""

from __future__ import annotations

from tests import documents as d
from tests.attack_support import NO_WAIT, PROXY, client, login, request_reset, reset, signup, verify
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
        for i in range(30):
            await login(api, phone, f"guess number {i}")
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
        for i in range(30):
            await login(api, phone, f"guess number {i}")
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
