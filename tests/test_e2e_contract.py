"""The whole contract, black-box: the real server (main.py) in its own process, its SMS sent
through the real Twilio SDK to a local Twilio double, every flow over HTTP."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests import documents as d
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, graphql_value, new_phone
from tests.twilio_double import TwilioDouble, served_app, server_env

CODE = re.compile(r"\b(\d{6})\b")
THIRD_PASSWORD = "saffron glacier piano 3"


class Client:
    def __init__(self, http: httpx.AsyncClient, twilio: TwilioDouble) -> None:
        self.http = http
        self.twilio = twilio

    async def run(self, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
        return await graphql_value(self.http, query, variables, token=token)

    async def code(self, phone: str, count: int) -> str:
        """The code of the count-th message Twilio accepted for ``phone``."""
        messages = await self.twilio.wait(phone, count)
        match = CODE.search(messages[count - 1].body)
        assert match, messages[count - 1].body
        return match.group(1)


async def test_every_flow_through_the_real_server_and_twilio(database_url, twilio):
    # Seven SMS reach the first phone within seconds: over the per-phone budget, notices
    # would wait and merge (tests/test_attacks_notices.py); this walk counts each message.
    env = server_env(
        twilio,
        database_url,
        RESEND_COOLDOWN_SECONDS="0",
        RATE_LIMITS="sms_per_phone=20/10 minutes;50/day",
        REFRESH_REUSE_GRACE_SECONDS="1",  # the grace, then reuse, within the walk
    )
    with served_app(env) as app:
        async with httpx.AsyncClient(base_url=app.url, trust_env=False, timeout=30) as http:
            await walk(Client(http, twilio))


async def walk(c: Client) -> None:
    phone, new = new_phone(), new_phone()
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    sent_to = lambda p: len(c.twilio.to(p))  # noqa: E731

    # signup -> code by SMS -> verifyPhone -> me
    sent = await c.run(
        d.SIGNUP, {"input": {"phone": national, "password": STRONG_PASSWORD, "username": "Walker"}}
    )
    assert sent == {
        "__typename": "VerificationSent",
        "phone": phone,
        "expiresAt": sent["expiresAt"],
        "challenge": sent["challenge"],
    }
    challenge = sent["challenge"]
    code = await c.code(phone, 1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert (
        await c.run(
            d.VERIFY_PHONE, {"input": {"phone": phone, "challenge": challenge, "code": wrong}}
        )
    )["__typename"] == "InvalidCode"
    first = await c.run(
        d.VERIFY_PHONE, {"input": {"phone": phone, "challenge": challenge, "code": code}}
    )
    assert first["__typename"] == "Session"
    assert (
        await c.run(
            d.VERIFY_PHONE, {"input": {"phone": phone, "challenge": challenge, "code": code}}
        )
    )["__typename"] == "InvalidCode"
    me = await c.run(d.ME, {}, token=first["accessToken"])
    assert me["phone"] == phone and me["isVerified"] and me["username"] == "Walker"

    # enumeration: a registered phone answers signup like a new one; the owner is told
    again = await c.run(d.SIGNUP, {"input": {"phone": phone, "password": OTHER_PASSWORD}})
    assert again["__typename"] == "VerificationSent"
    unknown = new_phone()
    assert (await c.run(d.REQUEST_RESET, {"phone": unknown}))["__typename"] == "ResetCodeSent"

    # login, refresh rotation, the grace (the same successor again) and reuse detection
    login = await c.run(d.LOGIN, {"input": {"identifier": "walker", "password": STRONG_PASSWORD}})
    assert login["__typename"] == "Session"
    rotated = await c.run(d.REFRESH, {"token": login["refreshToken"]})
    assert rotated["__typename"] == "Session"
    twin = await c.run(d.REFRESH, {"token": login["refreshToken"]})
    assert twin["refreshToken"] == rotated["refreshToken"]
    await asyncio.sleep(1.2)  # past REFRESH_REUSE_GRACE_SECONDS
    assert (await c.run(d.REFRESH, {"token": login["refreshToken"]}))[
        "__typename"
    ] == "InvalidToken"
    assert await c.run(d.ME, {}, token=rotated["accessToken"]) is None  # the family ended

    # reset by SMS ends every session
    reset_sent = await c.run(d.REQUEST_RESET, {"phone": phone})
    assert reset_sent["__typename"] == "ResetCodeSent"
    reset_code = await c.code(phone, 4)  # verify_signup, signup_verified, signup_existing, reset
    done = await c.run(
        d.RESET_PASSWORD,
        {
            "input": {
                "phone": phone,
                "challenge": reset_sent["challenge"],
                "code": reset_code,
                "newPassword": OTHER_PASSWORD,
            }
        },
    )
    assert done["__typename"] == "PasswordReset"
    assert await c.run(d.ME, {}, token=first["accessToken"]) is None
    second = await c.run(d.LOGIN, {"input": {"identifier": phone, "password": OTHER_PASSWORD}})
    assert second["__typename"] == "Session"

    # change password: a fresh session, the old one ends
    changed = await c.run(
        d.CHANGE_PASSWORD,
        {"input": {"currentPassword": OTHER_PASSWORD, "newPassword": THIRD_PASSWORD}},
        token=second["accessToken"],
    )
    assert changed["__typename"] == "PasswordChanged"
    token = changed["session"]["accessToken"]
    assert await c.run(d.ME, {}, token=second["accessToken"]) is None

    # identity change: code to the new phone; applied on confirm; old phone told
    pending = await c.run(
        d.CHANGE_IDENTITY, {"input": {"currentPassword": THIRD_PASSWORD, "phone": new}}, token=token
    )
    assert pending["__typename"] == "IdentityChangePending" and pending["sentTo"].endswith(new[-4:])
    assert (await c.run(d.ME, {}, token=token))["phone"] == phone
    identity_code = await c.code(new, 1)
    confirmed = await c.run(d.CONFIRM_IDENTITY, {"code": identity_code}, token=token)
    assert confirmed["__typename"] == "IdentityChanged" and confirmed["user"]["phone"] == new

    # two-factor login
    on = await c.run(
        d.SET_TWO_FACTOR,
        {"input": {"currentPassword": THIRD_PASSWORD, "enabled": True}},
        token=token,
    )
    assert on["__typename"] == "TwoFactorUpdated"
    challenge = await c.run(d.LOGIN, {"input": {"identifier": new, "password": THIRD_PASSWORD}})
    assert challenge["__typename"] == "SecondFactorRequired"
    await c.twilio.wait(new, 3)  # identity_change, two_factor_changed, login_code
    login_code = CODE.search(c.twilio.to(new)[-1].body).group(1)  # type: ignore[union-attr]
    via_code = await c.run(
        d.VERIFY_LOGIN, {"input": {"challenge": challenge["challenge"], "code": login_code}}
    )
    assert via_code["__typename"] == "Session"

    # logout everywhere, then delete the account
    out = await c.run(d.LOGOUT, {"everywhere": True}, token=via_code["accessToken"])
    assert out["__typename"] == "LoggedOut"
    assert await c.run(d.ME, {}, token=token) is None
    last = await c.run(d.LOGIN, {"input": {"identifier": new, "password": THIRD_PASSWORD}})
    assert last["__typename"] == "SecondFactorRequired"
    await c.twilio.wait(new, 4)
    last_code = CODE.search(c.twilio.to(new)[-1].body).group(1)  # type: ignore[union-attr]
    session = await c.run(
        d.VERIFY_LOGIN, {"input": {"challenge": last["challenge"], "code": last_code}}
    )
    gone = await c.run(
        d.DELETE_ACCOUNT,
        {"input": {"currentPassword": THIRD_PASSWORD}},
        token=session["accessToken"],
    )
    assert gone["__typename"] == "AccountDeleted"
    await c.twilio.wait(new, 5)

    # the messages actually sent, by phone, in order (text tells the action apart)
    old_bodies = [m.body for m in c.twilio.to(phone)]
    assert len(old_bodies) == 8, old_bodies
    # identity_change_requested at once, then identity_changed: neither holds a code
    assert "asked to change" in old_bodies[-2] and not CODE.search(old_bodies[-2])
    assert "sign up" in old_bodies[2]  # signup_existing, without a code
    assert not CODE.search(old_bodies[2]) and not CODE.search(old_bodies[-1])
    assert sent_to(unknown) == 0
    await asyncio.sleep(0)
