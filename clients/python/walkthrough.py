"""The README walkthrough with the generated client: from a phone number to a verified
account, against a running server.

    uv run main.py                                           # terminal 1: the server
    uv run python clients/python/walkthrough.py +14155550142 # terminal 2: asks for the code

The code is in the server's log (console SMS backend):
    ... WARNING phonegate.sms: SMS to +14155550142 [verify_signup]: Your phonegate code is ...

tests/test_client_generated.py runs `walkthrough` against the app.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable

from phonegate_client import (
    LoginInput,
    LoginLoginSecondFactorRequired,
    LoginLoginSession,
    PhonegateClient,
    SignupInput,
    SignupSignupVerificationSent,
    VerifyPhoneInput,
    VerifyPhoneVerifyPhoneSession,
)

ReadCode = Callable[[str, str], Awaitable[str]]


class Refused(Exception):
    """An error member of a result union: its type name and message."""


async def walkthrough(
    client: PhonegateClient, phone: str, password: str, read_code: ReadCode
) -> str:
    """Signup, verifyPhone, me, then login: the verified phone in E.164."""
    match (await client.signup(SignupInput(phone=phone, password=password))).signup:
        case SignupSignupVerificationSent(phone=e164, expires_at=expires_at, challenge=challenge):
            print(f"A code was sent to {e164}; it works until {expires_at:%H:%M} UTC.")
        case error:
            raise Refused(f"{error.typename__}: {error.message}")

    code = await read_code(e164, "verify_signup")
    verify = VerifyPhoneInput(phone=e164, challenge=challenge, code=code)
    match (await client.verify_phone(verify)).verify_phone:
        case VerifyPhoneVerifyPhoneSession(access_token=token):
            print("Verified: this Session is logged in.")
        case error:
            raise Refused(f"{error.typename__}: {error.message}")

    me = (await client.me(headers={"Authorization": f"Bearer {token}"})).me
    assert me is not None
    print(f"me: {me.phone}, verified: {me.is_verified}, since {me.created_at:%Y-%m-%d}")

    match (await client.login(LoginInput(identifier=e164, password=password))).login:
        case LoginLoginSession(user=user):
            print(f"Logged in again as {user.phone}.")
        case LoginLoginSecondFactorRequired(sent_to=sent_to):
            print(f"Two-factor login is on: a code went to {sent_to}.")
        case error:
            raise Refused(f"{error.typename__}: {error.message}")
    return me.phone


async def run(phone: str, password: str, url: str = "http://127.0.0.1:8000/graphql") -> int:
    async def read_code(to: str, action: str) -> str:
        prompt = f"The {action} code sent to {to} (see the server log): "
        return (await asyncio.to_thread(input, prompt)).strip()

    async with PhonegateClient(url=url) as client:
        try:
            await walkthrough(client, phone, password, read_code)
        except Refused as refused:
            print(refused, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    given = " ".join(sys.argv[1:]) or input("Your phone number: ")
    secret = getpass.getpass("A password (8+ characters, not a common one): ")
    sys.exit(asyncio.run(run(given, secret)))
