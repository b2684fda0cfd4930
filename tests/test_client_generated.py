"""Every flow through the generated Python client (clients/python/phonegate_client), against
the app over httpx.ASGITransport, matching each answer on the generated union member types.

The client is what a Python integrator would use: `PhonegateClient(url, http_client=...)`,
one async method per document in clients/operations/, the access token as a header.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest

from clients.python.phonegate_client import (
    ChangeIdentityChangeIdentityIdentityChangePending,
    ChangeIdentityInput,
    ChangePasswordChangePasswordPasswordChanged,
    ChangePasswordInput,
    ConfirmIdentityChangeConfirmIdentityChangeIdentityChanged,
    ConfirmTotpConfirmTotpRecoveryCodes,
    DeleteAccountDeleteAccountAccountDeleted,
    DeleteAccountDeleteAccountInvalidCredentials,
    DeleteAccountInput,
    LoginInput,
    LoginLoginInvalidCredentials,
    LoginLoginPhoneNotVerified,
    LoginLoginSecondFactorRequired,
    LoginLoginSession,
    LogoutLogoutLoggedOut,
    LogoutLogoutNotAuthenticated,
    PhonegateClient,
    RefreshSessionRefreshSessionInvalidToken,
    RefreshSessionRefreshSessionSession,
    RequestResetRequestResetResetCodeSent,
    ResendVerificationResendVerificationRateLimited,
    ResendVerificationResendVerificationVerificationSent,
    ResetPasswordInput,
    ResetPasswordResetPasswordPasswordReset,
    SetTwoFactorInput,
    SetTwoFactorSetTwoFactorNotAuthenticated,
    SetTwoFactorSetTwoFactorTwoFactorUpdated,
    SetupTotpSetupTotpTotpSetup,
    SignupInput,
    SignupSignupInvalidInput,
    SignupSignupVerificationSent,
    SignupSignupWeakPassword,
    VerifyLoginInput,
    VerifyLoginVerifyLoginSession,
    VerifyPhoneInput,
    VerifyPhoneVerifyPhoneInvalidCode,
    VerifyPhoneVerifyPhoneSession,
)
from tests.support import OTHER_PASSWORD, STRONG_PASSWORD, Api, new_phone

T = TypeVar("T")
CLIENT_DIR = Path(__file__).resolve().parent.parent / "clients" / "python"
THIRD_PASSWORD = "harbor pepper violin 31"


def expect(value: object, member: type[T]) -> T:
    """The answer as the generated union member it must be (fails with the answer if not)."""
    assert isinstance(value, member), f"expected {member.__name__}, got {value!r}"
    return value


def bearer(token: str) -> dict[str, Any]:
    """Per-call keyword arguments: the generated methods pass them on to httpx."""
    return {"headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
async def app(
    start_app: Callable[..., Any], make_settings: Callable[..., Any]
) -> AsyncIterator[Api]:
    # No resend wait, so the resend flow can be shown end to end; no refresh grace, so a
    # reused refresh token is refused at once (the grace: tests/test_api_refresh_grace.py).
    settings = make_settings(RESEND_COOLDOWN_SECONDS="0", REFRESH_REUSE_GRACE_SECONDS="0")
    async with start_app(settings) as api:
        yield api


@pytest.fixture
def client(app: Api) -> PhonegateClient:
    return PhonegateClient(url="http://testserver/graphql", http_client=app.http)


async def signed_up(client: PhonegateClient, app: Api, username: str | None = None):
    """Signup then verifyPhone: the phone and its Session."""
    phone = new_phone()
    answer = await client.signup(
        SignupInput(phone=phone, password=STRONG_PASSWORD, username=username)
    )
    challenge = expect(answer.signup, SignupSignupVerificationSent).challenge
    code = await app.sms.code(phone, "verify_signup")
    verified = await client.verify_phone(
        VerifyPhoneInput(phone=phone, challenge=challenge, code=code)
    )
    return phone, expect(verified.verify_phone, VerifyPhoneVerifyPhoneSession)


async def test_signup_resend_verify_and_me_through_the_generated_client(client, app):
    # given
    phone = new_phone()
    free = await client.username_available("Ada_client")
    # when
    sent = await client.signup(
        SignupInput(phone=phone, password=STRONG_PASSWORD, username="Ada_client")
    )
    challenge = expect(sent.signup, SignupSignupVerificationSent).challenge
    first_code = await app.sms.code(phone, "verify_signup")
    resent = await client.resend_verification(phone, challenge)
    code = await app.sms.code(phone, "verify_signup", count=2)
    stale = "000000" if first_code == code else first_code  # a new code replaces the old
    wrong = await client.verify_phone(
        VerifyPhoneInput(phone=phone, challenge=challenge, code=stale)
    )
    verified = await client.verify_phone(
        VerifyPhoneInput(phone=phone, challenge=challenge, code=code)
    )
    # then
    assert free.username_available is True
    match sent.signup:
        case SignupSignupVerificationSent(phone=sent_to, expires_at=expires_at):
            assert sent_to == phone and expires_at > datetime.now(UTC)
        case other:
            pytest.fail(f"signup answered {other!r}")
    again = expect(resent.resend_verification, ResendVerificationResendVerificationVerificationSent)
    assert again.challenge == challenge
    assert expect(wrong.verify_phone, VerifyPhoneVerifyPhoneInvalidCode).message
    session = expect(verified.verify_phone, VerifyPhoneVerifyPhoneSession)
    assert session.user.is_verified and session.user.username == "Ada_client"
    me = await client.me(**bearer(session.access_token))
    assert me.me is not None and me.me.phone == phone
    assert (await client.username_available("ada_CLIENT")).username_available is False


async def test_typed_errors_of_signup_and_login_are_their_own_types(client, app):
    # given
    phone, _ = await signed_up(client, app)
    # when
    bad_phone = await client.signup(SignupInput(phone="12", password=STRONG_PASSWORD))
    weak = await client.signup(SignupInput(phone=new_phone(), password="password"))
    wrong = await client.login(LoginInput(identifier=phone, password="not the password"))
    unverified_phone = new_phone()
    await client.signup(SignupInput(phone=unverified_phone, password=STRONG_PASSWORD))
    unverified = await client.login(
        LoginInput(identifier=unverified_phone, password=STRONG_PASSWORD)
    )
    # then
    assert expect(bad_phone.signup, SignupSignupInvalidInput).field == "phone"
    assert expect(weak.signup, SignupSignupWeakPassword).message
    assert expect(wrong.login, LoginLoginInvalidCredentials).message
    assert expect(unverified.login, LoginLoginPhoneNotVerified).message


async def test_a_second_resend_at_once_is_rate_limited_with_a_wait(start_app, make_settings):
    # given: the default resend wait
    async with start_app(make_settings()) as app:
        client = PhonegateClient(url="http://testserver/graphql", http_client=app.http)
        phone = new_phone()
        sent = await client.signup(SignupInput(phone=phone, password=STRONG_PASSWORD))
        challenge = expect(sent.signup, SignupSignupVerificationSent).challenge
        # when
        answer = await client.resend_verification(phone, challenge)
    # then
    limited = expect(answer.resend_verification, ResendVerificationResendVerificationRateLimited)
    assert 0 < limited.retry_after_seconds <= 30


async def test_login_with_two_factor_refresh_and_logout(client, app):
    # given
    phone, first = await signed_up(client, app, username="Grace_client")
    token = first.access_token
    # when: two-factor on, then a login needs the SMS code
    switched = await client.set_two_factor(
        SetTwoFactorInput(current_password=STRONG_PASSWORD, enabled=True), **bearer(token)
    )
    login = await client.login(LoginInput(identifier="grace_client", password=STRONG_PASSWORD))
    # then
    assert expect(switched.set_two_factor, SetTwoFactorSetTwoFactorTwoFactorUpdated).user
    assert switched.set_two_factor.user.two_factor_enabled is True
    match login.login:
        case LoginLoginSecondFactorRequired(challenge=challenge, sent_to=sent_to):
            assert sent_to.endswith(phone[-4:]) and phone not in sent_to
        case other:
            pytest.fail(f"login answered {other!r}")
    code = await app.sms.code(phone, "login_code")
    second = await client.verify_login(VerifyLoginInput(challenge=challenge, code=code))
    session = expect(second.verify_login, VerifyLoginVerifyLoginSession)

    # when: refresh rotates the tokens; the old refresh token is spent
    rotated = await client.refresh_session(session.refresh_token)
    fresh = expect(rotated.refresh_session, RefreshSessionRefreshSessionSession)
    reused = await client.refresh_session(session.refresh_token)
    expect(reused.refresh_session, RefreshSessionRefreshSessionInvalidToken)

    # when: two-factor off again, a password login gives a Session straight away
    await client.set_two_factor(
        SetTwoFactorInput(current_password=STRONG_PASSWORD, enabled=False),
        **bearer(first.access_token),
    )
    plain = await client.login(LoginInput(identifier=phone, password=STRONG_PASSWORD))
    plain_session = expect(plain.login, LoginLoginSession)

    # then: logout ends that session; without any token there is nothing to end
    out = await client.logout(
        everywhere=False,
        refresh_token=plain_session.refresh_token,
        **bearer(plain_session.access_token),
    )
    assert expect(out.logout, LogoutLogoutLoggedOut).message
    assert (await client.me(**bearer(plain_session.access_token))).me is None
    again = await client.logout(everywhere=False)
    expect(again.logout, LogoutLogoutNotAuthenticated)
    assert fresh.user.phone == phone


async def test_reset_change_password_identity_change_and_delete(client, app):
    # given
    phone, session = await signed_up(client, app)
    # when: a forgotten password is reset by SMS; every session ends
    sent = await client.request_reset(phone)
    challenge = expect(sent.request_reset, RequestResetRequestResetResetCodeSent).challenge
    code = await app.sms.code(phone, "reset_password")
    reset = await client.reset_password(
        ResetPasswordInput(phone=phone, challenge=challenge, code=code, new_password=OTHER_PASSWORD)
    )
    # then
    assert expect(reset.reset_password, ResetPasswordResetPasswordPasswordReset).message
    assert (await client.me(**bearer(session.access_token))).me is None

    # when: log in with the new password and change it; the fresh session replaces the old
    login = await client.login(LoginInput(identifier=phone, password=OTHER_PASSWORD))
    token = expect(login.login, LoginLoginSession).access_token
    changed = await client.change_password(
        ChangePasswordInput(current_password=OTHER_PASSWORD, new_password=THIRD_PASSWORD),
        **bearer(token),
    )
    token = expect(
        changed.change_password, ChangePasswordChangePasswordPasswordChanged
    ).session.access_token

    # when: change the phone, confirmed by the code sent to the new phone
    new = new_phone()
    pending = await client.change_identity(
        ChangeIdentityInput(current_password=THIRD_PASSWORD, phone=new, username="Lin_client"),
        **bearer(token),
    )
    expect(pending.change_identity, ChangeIdentityChangeIdentityIdentityChangePending)
    code = await app.sms.code(new, "identity_change")
    confirmed = await client.confirm_identity_change(code, **bearer(token))
    user = expect(
        confirmed.confirm_identity_change, ConfirmIdentityChangeConfirmIdentityChangeIdentityChanged
    ).user
    assert (user.phone, user.username, user.pending_phone) == (new, "Lin_client", None)

    # when: delete the account; a wrong password is refused first
    refused = await client.delete_account(
        DeleteAccountInput(current_password="not the password"), **bearer(token)
    )
    deleted = await client.delete_account(
        DeleteAccountInput(current_password=THIRD_PASSWORD), **bearer(token)
    )
    # then
    expect(refused.delete_account, DeleteAccountDeleteAccountInvalidCredentials)
    assert expect(deleted.delete_account, DeleteAccountDeleteAccountAccountDeleted).message
    gone = await client.login(LoginInput(identifier=new, password=THIRD_PASSWORD))
    expect(gone.login, LoginLoginInvalidCredentials)
    after = await client.set_two_factor(
        SetTwoFactorInput(current_password=THIRD_PASSWORD, enabled=True), **bearer(token)
    )
    expect(after.set_two_factor, SetTwoFactorSetTwoFactorNotAuthenticated)


async def test_the_readme_walkthrough_script_verifies_an_account(app, monkeypatch, capsys):
    # given: clients/python/walkthrough.py as the README runs it, with the app as server
    monkeypatch.syspath_prepend(str(CLIENT_DIR))
    walkthrough = importlib.import_module("walkthrough")
    client = walkthrough.PhonegateClient(url="http://testserver/graphql", http_client=app.http)
    phone = new_phone()

    async def read_code(to: str, action: str) -> str:
        return await app.sms.code(to, action)

    # when
    verified = await walkthrough.walkthrough(client, phone, STRONG_PASSWORD, read_code)
    # then
    assert verified == phone
    assert "Verified" in capsys.readouterr().out


async def test_totp_enrolment_and_history_through_the_generated_client(client, app):
    # given
    _, session = await signed_up(client, app)
    auth = bearer(session.access_token)
    # when
    setup = await client.setup_totp(current_password=STRONG_PASSWORD, **auth)
    made = expect(setup.setup_totp, SetupTotpSetupTotpTotpSetup)
    code = pyotp.parse_uri(made.otpauth_uri).now()
    confirmed = await client.confirm_totp(code=code, **auth)
    # then
    codes = expect(confirmed.confirm_totp, ConfirmTotpConfirmTotpRecoveryCodes).codes
    assert len(set(codes)) == 10
    activity = (await client.security_activity(first=5, **auth)).me
    assert activity is not None and activity.totp_enabled and activity.recovery_codes_left == 10
    assert activity.security_events[0].kind == "totp_enabled"
