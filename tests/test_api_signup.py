"""Signup, resend and phone verification through the GraphQL endpoint."""

from __future__ import annotations

from tests import documents as d
from tests.support import STRONG_PASSWORD, new_phone


async def test_signup_then_verify_phone_gives_a_session_and_me(api):
    # given
    phone = new_phone()
    spaced = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    # when
    sent = await api.run(
        d.SIGNUP, {"input": {"phone": spaced, "password": STRONG_PASSWORD, "username": "Alice_1"}}
    )
    code = await api.sms.code(phone, "verify_signup")
    session = await api.run(d.VERIFY_PHONE, {"input": {"phone": phone, "code": code}})
    me = await api.run(d.ME, token=session["accessToken"])
    # then
    assert sent["__typename"] == "VerificationSent" and sent["phone"] == phone
    assert session["__typename"] == "Session"
    assert me["phone"] == phone and me["isVerified"] is True and me["username"] == "Alice_1"
    await api.sms.wait(phone, "signup_verified")
