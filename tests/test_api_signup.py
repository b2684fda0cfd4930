"""Signup, resend and phone verification through the GraphQL endpoint."""

from __future__ import annotations

import asyncio

from models import User
from tests import documents as d
from tests.conftest import signup_verified
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, new_phone


async def signup(api, phone, password=STRONG_PASSWORD, username=None):
    variables = {"input": {"phone": phone, "password": password, "username": username}}
    return await api.run(d.SIGNUP, variables)


async def verify(api, phone, challenge, code):
    variables = {"input": {"phone": phone, "challenge": challenge, "code": code}}
    return await api.run(d.VERIFY_PHONE, variables)


async def resend(api, phone, challenge):
    return await api.run(d.RESEND, {"phone": phone, "challenge": challenge})


async def test_signup_then_verify_phone_gives_a_session_and_me(api):
    # given
    phone = new_phone()
    spaced = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    # when
    sent = await signup(api, spaced, username="Alice_1")
    code = await api.sms.code(phone, "verify_signup")
    session = await verify(api, phone, sent["challenge"], code)
    me = await api.run(d.ME, token=session["accessToken"])
    # then
    assert sent["__typename"] == "VerificationSent" and sent["phone"] == phone
    assert session["__typename"] == "Session"
    assert me["phone"] == phone and me["isVerified"] is True and me["username"] == "Alice_1"
    await api.sms.wait(phone, "signup_verified")


async def test_every_spelling_of_a_phone_is_stored_as_one_e164(api):
    # given
    phone = new_phone()
    national = phone[2:]
    spaced = f"+1 {national[:3]} {national[3:6]} {national[6:]}"
    dashed = f"1-{national[:3]}-{national[3:6]}-{national[6:]}"
    full_width = "".join(chr(ord("０") + int(c)) for c in national)
    # when
    sent = await signup(api, spaced)
    code = await api.sms.code(phone, "verify_signup")
    session = await verify(api, full_width, sent["challenge"], code)
    login = await api.run(d.LOGIN, {"input": {"identifier": dashed, "password": STRONG_PASSWORD}})
    # then
    assert sent["phone"] == phone
    assert session["__typename"] == "Session" and session["user"]["phone"] == phone
    assert login["__typename"] == "Session"
    assert await User.filter(phone=phone).count() == 1


async def test_signup_with_a_verified_phone_answers_the_same_and_tells_the_owner(
    make_settings, start_app
):
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        await _signup_existing(api)


async def _signup_existing(api):
    # given
    phone = new_phone()
    await signup_verified(api, phone)
    await api.sms.wait(phone, "signup_verified")  # sent: a later notice is not merged in
    # when
    again = await signup(api, phone, password=OTHER_PASSWORD)
    # then
    assert again["__typename"] == "VerificationSent" and again["phone"] == phone
    notice = await api.sms.wait(phone, "signup_existing")
    assert not any(ch.isdigit() for ch in notice.body.split("phonegate")[0])
    assert await User.filter(phone=phone).count() == 1
    old = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}})
    new = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
    assert old["__typename"] == "Session" and new["__typename"] == "InvalidCredentials"


async def test_each_signup_of_a_phone_completes_only_with_its_own_challenge_and_code(
    make_settings, start_app
):
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone = new_phone()
        first = await signup(api, phone, password=STRONG_PASSWORD)
        first_code = await api.sms.code(phone, "verify_signup")
        second = await signup(api, phone, password=OTHER_PASSWORD)
        second_code = await api.sms.code(phone, "verify_signup", count=2)
        assert first["challenge"] != second["challenge"]
        if first_code != second_code:  # a code does not complete another signup
            crossed = await verify(api, phone, second["challenge"], first_code)
            assert crossed["__typename"] == "InvalidCode"
        assert (await verify(api, phone, first["challenge"], first_code))["__typename"] == (
            "Session"
        )
        # the phone is proven: the other signup of it is over
        later = await verify(api, phone, second["challenge"], second_code)
        assert later["__typename"] == "InvalidCode"
        old = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": STRONG_PASSWORD}})
        new = await api.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
        assert old["__typename"] == "Session" and new["__typename"] == "InvalidCredentials"


async def test_signup_refuses_an_invalid_phone_without_sending(api):
    for bad in ["12", "not a phone", "+1800555123", "+18005551234", "+9" * 30]:
        answer = await signup(api, bad)
        assert answer["__typename"] == "InvalidInput" and answer["field"] == "phone", bad
    assert api.sms.messages == []


async def test_signup_refuses_a_weak_password_with_a_reason(api):
    phone = new_phone()
    for weak in ["short", "password123", phone[2:] + "ab", "a" * 257]:
        answer = await signup(api, phone, password=weak)
        assert answer["__typename"] == "WeakPassword" and answer["message"], weak
    assert await User.filter(phone=phone).count() == 0


async def test_signup_with_a_taken_username_is_refused(api):
    await signup_verified(api, username="Zed_the_First")
    answer = await signup(api, new_phone(), username="ZED_THE_FIRST")
    assert answer["__typename"] == "UsernameTaken"
    bad = await signup(api, new_phone(), username="a b")
    assert bad["__typename"] == "InvalidInput" and bad["field"] == "username"


async def test_resend_too_soon_is_rate_limited_with_a_truthful_wait(api):
    phone = new_phone()
    sent = await signup(api, phone)
    answer = await resend(api, phone, sent["challenge"])
    assert answer["__typename"] == "RateLimited"
    assert 1 <= answer["retryAfterSeconds"] <= 30


async def test_resend_answers_the_same_challenge_for_new_and_registered_phones(
    make_settings, start_app
):
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        fresh, registered = new_phone(), new_phone()
        await signup_verified(api, registered)
        sent_fresh = await signup(api, fresh)
        sent_registered = await signup(api, registered, password=OTHER_PASSWORD)
        a = await resend(api, fresh, sent_fresh["challenge"])
        b = await resend(api, registered, sent_registered["challenge"])
        assert a["__typename"] == b["__typename"] == "VerificationSent"
        assert a["challenge"] == sent_fresh["challenge"]
        assert b["challenge"] == sent_registered["challenge"]
        await api.sms.wait(fresh, "verify_signup", count=2)
        await asyncio.sleep(0.1)
        assert len(api.sms.to(registered, "verify_signup")) == 1  # its own signup only


async def test_resend_with_an_unknown_challenge_is_invalid_input(api):
    phone = new_phone()
    await signup(api, phone)
    answer = await resend(api, phone, "not-a-challenge")
    assert answer["__typename"] == "InvalidInput" and answer["field"] == "challenge"


async def test_a_registered_phones_challenge_answers_like_a_real_one(make_settings, start_app):
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        fresh, registered = new_phone(), new_phone()
        await signup_verified(api, registered)
        real = await signup(api, fresh)
        decoy = await signup(api, registered)
        answers_real = [
            (await verify(api, fresh, real["challenge"], "000001"))["__typename"] for _ in range(6)
        ]
        answers_decoy = [
            (await verify(api, registered, decoy["challenge"], "000001"))["__typename"]
            for _ in range(6)
        ]
        assert answers_real == answers_decoy
        assert answers_real == ["InvalidCode"] * 4 + ["TooManyAttempts"] * 2


async def test_the_right_code_after_max_wrong_guesses_is_refused(api):
    phone = new_phone()
    sent = await signup(api, phone)
    code = await api.sms.code(phone, "verify_signup")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        await verify(api, phone, sent["challenge"], wrong)
    assert (await verify(api, phone, sent["challenge"], code))["__typename"] == "TooManyAttempts"


async def test_a_resend_does_not_reset_the_wrong_guess_count(make_settings, start_app):
    async with start_app(make_settings(RESEND_COOLDOWN_SECONDS="0")) as api:
        phone = new_phone()
        sent = await signup(api, phone)
        challenge = sent["challenge"]
        first = await api.sms.code(phone, "verify_signup")
        wrong = f"{(int(first) + 1) % 1_000_000:06d}"
        for _ in range(3):
            assert (await verify(api, phone, challenge, wrong))["__typename"] == "InvalidCode"
        await resend(api, phone, challenge)
        second = await api.sms.code(phone, "verify_signup", count=2)
        wrong2 = f"{(int(second) + 1) % 1_000_000:06d}"
        assert (await verify(api, phone, challenge, wrong2))["__typename"] == "InvalidCode"
        assert (await verify(api, phone, challenge, wrong2))["__typename"] == "TooManyAttempts"
        assert (await verify(api, phone, challenge, second))["__typename"] == "TooManyAttempts"


async def test_a_code_is_single_use(api):
    phone = new_phone()
    challenge = (await signup(api, phone))["challenge"]
    code = await api.sms.code(phone, "verify_signup")
    assert (await verify(api, phone, challenge, code))["__typename"] == "Session"
    assert (await verify(api, phone, challenge, code))["__typename"] == "InvalidCode"


async def test_an_expired_code_is_refused(make_settings, start_app):
    async with start_app(make_settings(VERIFICATION_CODE_TTL_SECONDS="1")) as api:
        phone = new_phone()
        challenge = (await signup(api, phone))["challenge"]
        code = await api.sms.code(phone, "verify_signup")
        await asyncio.sleep(1.2)
        assert (await verify(api, phone, challenge, code))["__typename"] == "CodeExpired"


async def test_a_malformed_code_is_invalid_input_and_not_counted(api):
    phone = new_phone()
    challenge = (await signup(api, phone))["challenge"]
    code = await api.sms.code(phone, "verify_signup")
    for bad in ["12345", "abcdef", "1234567", "１２３４５６"]:
        answer = await verify(api, phone, challenge, bad)
        assert answer["__typename"] == "InvalidInput" and answer["field"] == "code"
    assert (await verify(api, phone, challenge, code))["__typename"] == "Session"


async def test_a_code_with_leading_zeros_verifies(make_settings, start_app):
    phone = new_phone()
    async with start_app(make_settings(TEST_PHONE_CODES=f"{phone}=012345")) as api:
        challenge = (await signup(api, phone))["challenge"]
        assert (await verify(api, phone, challenge, "012345"))["__typename"] == "Session"


async def test_username_available_follows_case_and_width(api):
    await signup_verified(api, username="Quill")
    taken = await api.run(d.USERNAME_AVAILABLE, {"u": "ＱＵＩＬＬ"})
    free = await api.run(d.USERNAME_AVAILABLE, {"u": "quill2"})
    invalid = await api.run(d.USERNAME_AVAILABLE, {"u": "a"})
    assert (taken, free, invalid) == (False, True, False)


async def test_verifying_a_signup_of_a_phone_an_account_holds_is_refused_and_changes_nothing(api):
    # given: a pending signup, and an account that took the phone meanwhile (verification
    # finds it by the phone's unique key, with no look before)
    phone = new_phone()
    sent = await signup(api, phone)
    code = await api.sms.code(phone, "verify_signup")
    holder = await User.create(phone=phone, password_hash="x", is_verified=True)
    # when
    answer = await verify(api, phone, sent["challenge"], code)
    # then: the answer of a used code, no second account, the holder untouched
    assert answer["__typename"] == "InvalidCode"
    assert [u.id for u in await User.filter(phone=phone)] == [holder.id]
