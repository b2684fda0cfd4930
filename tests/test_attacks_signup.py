"""The attacker's suite: account takeover during signup (issue 11, finding 1).

Black-box over HTTP, each request from its own client address behind the trusted proxy.
Before the fix a second signup of a pending phone replaced the first one's password, so the
code the owner received completed the attacker's password."""

from __future__ import annotations

import asyncio
import secrets

from tests import documents as d
from tests.attack_support import NO_WAIT, PROXY, client, login, signup, verify, wrong
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone

ATTACKER_PASSWORD = "attacker owns this 99"


async def test_a_later_signup_of_a_pending_phone_never_changes_the_owners_signup(
    make_settings, start_app
):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        # given the owner's pending signup, then the attacker's signup of the same phone
        phone = new_phone()
        owner = await signup(api, phone, STRONG_PASSWORD, "owner_name")
        owner_code = await api.sms.code(phone, "verify_signup")
        attacker = await signup(api, phone, ATTACKER_PASSWORD, "evil_name")
        # when the owner completes their signup with the code they received
        session = await verify(api, phone, owner["challenge"], owner_code)
        # then the account is the owner's: their password and username, not the attacker's
        assert session["__typename"] == "Session"
        assert session["user"]["username"] == "owner_name"
        assert (await login(api, phone, ATTACKER_PASSWORD))["__typename"] == "InvalidCredentials"
        assert (await login(api, phone, STRONG_PASSWORD))["__typename"] == "Session"
        assert attacker["challenge"] != owner["challenge"]


async def test_a_code_sent_for_one_signup_cannot_complete_another(make_settings, start_app):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone = new_phone()
        owner = await signup(api, phone, STRONG_PASSWORD)
        owner_code = await api.sms.code(phone, "verify_signup")
        attacker = await signup(api, phone, ATTACKER_PASSWORD)
        attacker_code = await api.sms.code(phone, "verify_signup", count=2)
        # the owner's code with the attacker's challenge (unless both codes happen to match)
        if owner_code != attacker_code:
            stolen = await verify(api, phone, attacker["challenge"], owner_code)
            assert stolen["__typename"] == "InvalidCode"
        # a challenge without its code gets nowhere: it dies after five guesses
        answers = [
            (await verify(api, phone, attacker["challenge"], wrong(attacker_code, i)))["__typename"]
            for i in range(1, 6)
        ]
        assert answers[-1] == "TooManyAttempts"
        assert (await verify(api, phone, owner["challenge"], owner_code))["__typename"] == (
            "Session"
        )


async def test_an_unverified_signup_never_reserves_a_username_against_its_real_owner(api):
    # given a stranger's signup that asks for a name and is never verified
    await signup(api, new_phone(), ATTACKER_PASSWORD, "Popular")
    # when the real person signs up with that name from their own phone
    phone = new_phone()
    sent = await signup(api, phone, STRONG_PASSWORD, "popular")
    session = await verify(
        api, phone, sent["challenge"], await api.sms.code(phone, "verify_signup")
    )
    # then they get it
    assert sent["__typename"] == "VerificationSent"
    assert session["__typename"] == "Session" and session["user"]["username"] == "popular"


async def test_two_pending_signups_wanting_one_name_both_verify_and_the_first_gets_it(api):
    first_phone, second_phone = new_phone(), new_phone()
    first = await signup(api, first_phone, STRONG_PASSWORD, "Twin")
    second = await signup(api, second_phone, OTHER_PASSWORD, "twin")
    first_code = await api.sms.code(first_phone, "verify_signup")
    second_code = await api.sms.code(second_phone, "verify_signup")
    won = await verify(api, first_phone, first["challenge"], first_code)
    late = await verify(api, second_phone, second["challenge"], second_code)
    assert won["__typename"] == "Session" and won["user"]["username"] == "Twin"
    # the phone is proven and the code was right: an account, without the taken name
    assert late["__typename"] == "Session" and late["user"]["username"] is None
    assert (await login(api, "twin", STRONG_PASSWORD))["user"]["phone"] == first_phone


async def test_parallel_verifications_wanting_one_name_all_verify_and_one_gets_it(
    make_settings, start_app
):
    # An attacker who knows a victim's wanted name signs up three phones of their own with
    # it and verifies them all at the moment the victim verifies: one account gets the name,
    # and every right code still makes an account (none is refused or lost to the race).
    # Each from its own client (behind the proxy), as four people would be.
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phones = [new_phone() for _ in range(4)]
        name = f"Contested{secrets.token_hex(3)}"  # the database outlives one test
        sent = [await signup(api, phone, STRONG_PASSWORD, name) for phone in phones]
        assert [s["__typename"] for s in sent] == ["VerificationSent"] * 4, sent
        codes = [await api.sms.code(phone, "verify_signup") for phone in phones]
        answers = await asyncio.gather(
            *[
                verify(api, phone, s["challenge"], code)
                for phone, s, code in zip(phones, sent, codes, strict=True)
            ]
        )
        assert [a["__typename"] for a in answers] == ["Session"] * 4, answers
        named = [a["user"]["phone"] for a in answers if a["user"]["username"] == name]
        assert len(named) == 1 and sum(a["user"]["username"] is None for a in answers) == 3
        assert (await login(api, name.lower(), STRONG_PASSWORD))["user"]["phone"] == named[0]


async def test_a_registered_phones_owner_is_told_and_no_code_is_sent(make_settings, start_app):
    async with start_app(make_settings(**NO_WAIT), client=PROXY) as api:
        phone = new_phone()
        await signup_verified(api, phone)
        await api.sms.wait(phone, "signup_verified")  # sent: a later notice is not merged in
        probe = await signup(api, phone, ATTACKER_PASSWORD)
        resent = await api.run(
            d.RESEND, {"phone": phone, "challenge": probe["challenge"]}, headers=client()
        )
        await api.sms.wait(phone, "signup_existing")
        assert probe["__typename"] == resent["__typename"] == "VerificationSent"
        assert resent["challenge"] == probe["challenge"]
        assert len(api.sms.to(phone, "verify_signup")) == 1  # the owner's own signup only
        assert (await login(api, phone, ATTACKER_PASSWORD))["__typename"] == "InvalidCredentials"
