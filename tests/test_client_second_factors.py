"""The second-factor operations the generated Python client had no test for: login with the
authenticator app and with a recovery code (verifyLogin's `method`), a recovery code used
twice, a reset that needs `secondFactorCode`, new recovery codes and the app turned off,
each answer matched on its generated union member. (Setting the app up and reading the
history: tests/test_client_generated.py.)"""

from __future__ import annotations

import time

import pyotp

from clients.python.phonegate_client import (
    ConfirmTotpConfirmTotpRecoveryCodes,
    DisableTotpDisableTotpInvalidCredentials,
    DisableTotpDisableTotpTwoFactorUpdated,
    LoginInput,
    LoginLoginSecondFactorRequired,
    LoginLoginSession,
    PhonegateClient,
    RegenerateRecoveryCodesRegenerateRecoveryCodesRecoveryCodes,
    RequestResetRequestResetResetCodeSent,
    ResetPasswordInput,
    ResetPasswordResetPasswordInvalidInput,
    ResetPasswordResetPasswordPasswordReset,
    SecondFactor,
    SetupTotpSetupTotpTotpSetup,
    VerifyLoginInput,
    VerifyLoginVerifyLoginInvalidCode,
    VerifyLoginVerifyLoginSession,
)
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, Api
from tests.test_client_generated import app, bearer, client, expect, signed_up

__all__ = ["app", "client"]  # the fixtures, shared with tests/test_client_generated.py


async def with_app_on(client: PhonegateClient, app: Api) -> tuple[str, pyotp.TOTP, list[str]]:
    """A verified account with the authenticator app on: its phone, the app, its codes."""
    phone, session = await signed_up(client, app)
    auth = bearer(session.access_token)
    setup = await client.setup_totp(current_password=STRONG_PASSWORD, **auth)
    totp = pyotp.parse_uri(expect(setup.setup_totp, SetupTotpSetupTotpTotpSetup).otpauth_uri)
    confirmed = await client.confirm_totp(code=totp.now(), **auth)
    codes = expect(confirmed.confirm_totp, ConfirmTotpConfirmTotpRecoveryCodes).codes
    return phone, totp, codes


async def second_factor(client: PhonegateClient, phone: str, password: str = STRONG_PASSWORD):
    answer = await client.login(LoginInput(identifier=phone, password=password))
    return expect(answer.login, LoginLoginSecondFactorRequired)


async def test_login_with_the_app_and_with_a_recovery_code_once(client, app):
    # given
    phone, totp, codes = await with_app_on(client, app)
    # when
    asked = await second_factor(client, phone)
    by_app = await client.verify_login(
        VerifyLoginInput(
            challenge=asked.challenge, code=totp.at(time.time() + 30), method=SecondFactor.TOTP
        )
    )
    again = await second_factor(client, phone)
    by_code = await client.verify_login(
        VerifyLoginInput(
            challenge=again.challenge, code=codes[0], method=SecondFactor.RECOVERY_CODE
        )
    )
    third = await second_factor(client, phone)
    reused = await client.verify_login(
        VerifyLoginInput(
            challenge=third.challenge, code=codes[0], method=SecondFactor.RECOVERY_CODE
        )
    )
    # then
    assert asked.methods == [SecondFactor.TOTP, SecondFactor.RECOVERY_CODE]
    assert asked.sent_to is None and app.sms.to(phone, "login_code") == []
    expect(by_app.verify_login, VerifyLoginVerifyLoginSession)
    session = expect(by_code.verify_login, VerifyLoginVerifyLoginSession)
    expect(reused.verify_login, VerifyLoginVerifyLoginInvalidCode)
    activity = (await client.security_activity(first=3, **bearer(session.access_token))).me
    assert activity is not None and activity.recovery_codes_left == 9


async def test_reset_needs_second_factor_code_then_new_codes_and_the_app_off(client, app):
    # given
    phone, _, codes = await with_app_on(client, app)
    sent = await client.request_reset(phone)
    challenge = expect(sent.request_reset, RequestResetRequestResetResetCodeSent).challenge
    sms = await app.sms.code(phone, "reset_password")

    def reset(second: str | None) -> ResetPasswordInput:
        return ResetPasswordInput(
            phone=phone,
            challenge=challenge,
            code=sms,
            new_password=OTHER_PASSWORD,
            second_factor_code=second,
        )

    # when
    refused = await client.reset_password(reset(None))
    done = await client.reset_password(reset(codes[1]))
    asked = await second_factor(client, phone, OTHER_PASSWORD)
    login = await client.verify_login(
        VerifyLoginInput(
            challenge=asked.challenge, code=codes[2], method=SecondFactor.RECOVERY_CODE
        )
    )
    auth = bearer(expect(login.verify_login, VerifyLoginVerifyLoginSession).access_token)
    fresh = await client.regenerate_recovery_codes(current_password=OTHER_PASSWORD, **auth)
    wrong = await client.disable_totp(current_password=STRONG_PASSWORD, **auth)
    off = await client.disable_totp(current_password=OTHER_PASSWORD, **auth)
    plain = await client.login(LoginInput(identifier=phone, password=OTHER_PASSWORD))
    # then
    assert expect(refused.reset_password, ResetPasswordResetPasswordInvalidInput).field == (
        "secondFactorCode"
    )
    expect(done.reset_password, ResetPasswordResetPasswordPasswordReset)
    new_codes = expect(
        fresh.regenerate_recovery_codes,
        RegenerateRecoveryCodesRegenerateRecoveryCodesRecoveryCodes,
    ).codes
    assert len(set(new_codes)) == 10 and set(new_codes).isdisjoint(codes)
    expect(wrong.disable_totp, DisableTotpDisableTotpInvalidCredentials)
    user = expect(off.disable_totp, DisableTotpDisableTotpTwoFactorUpdated).user
    assert not user.totp_enabled and user.recovery_codes_left == 0
    expect(plain.login, LoginLoginSession)
