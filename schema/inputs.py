"""Input types of the contract."""

import strawberry

from schema.types import Channel, SecondFactor


@strawberry.input(description="A new account: a code is sent to the phone to verify it.")
class SignupInput:
    phone: str = strawberry.field(
        description='Mobile number in any common format, e.g. "+1 415 555 0123"; answered in E.164.'
    )
    password: str = strawberry.field(
        description="8 to 256 characters, any Unicode; not a common password, not built from "
        "the phone or username (else `WeakPassword`)."
    )
    username: str | None = strawberry.field(
        default=None,
        description="Optional: 3 to 32 letters (of one alphabet), digits, '.', '_' or '-', "
        "starting with a letter or digit. Check it first with `usernameAvailable`.",
    )
    locale: str | None = strawberry.field(
        default=None,
        description='The account\'s language, a BCP 47 tag such as "es" or "pt-BR": every '
        "message and call to the account uses it. Without it: Accept-Language, else the "
        "phone's country, else English. A tag for a language without texts falls back the "
        "same way; a malformed one is InvalidInput on `locale`.",
    )
    channel: Channel = strawberry.field(
        default=Channel.SMS,
        description="How the code goes: SMS (default), VOICE (a call) or WHATSAPP; one of the "
        "server's ALLOWED_CHANNELS, else InvalidInput on `channel`.",
    )


@strawberry.input(description="The code sent by `signup` or `resendVerification`.")
class VerifyPhoneInput:
    phone: str = strawberry.field(description="The phone the code was sent to.")
    code: str = strawberry.field(description="The digits from the `verify_signup` SMS.")
    challenge: str = strawberry.field(
        description="`VerificationSent.challenge` from this signup, unchanged: only it "
        "completes this signup."
    )


@strawberry.input(description="Credentials for `login`: an identifier and the password.")
class LoginInput:
    identifier: str = strawberry.field(description="Phone (any common format) or username.")
    password: str = strawberry.field(description="The account's password, as typed.")


@strawberry.input(description="Completes a login that answered `SecondFactorRequired`.")
class VerifyLoginInput:
    challenge: str = strawberry.field(
        description="`SecondFactorRequired.challenge` from `login`, unchanged."
    )
    code: str = strawberry.field(description="The digits from the `login_code` SMS.")
    method: SecondFactor = strawberry.field(
        default=SecondFactor.SMS,
        description="Which factor `code` is: SMS (default), TOTP (the authenticator app) or "
        "RECOVERY_CODE; one of `SecondFactorRequired.methods`.",
    )


@strawberry.input(description="Turns two-factor login on or off.")
class SetTwoFactorInput:
    current_password: str = strawberry.field(description="The account's password, to confirm.")
    enabled: bool = strawberry.field(
        description="True: `login` also needs a `login_code` SMS code. False: password only."
    )


@strawberry.input(description="Completes a password reset started by `requestReset`.")
class ResetPasswordInput:
    phone: str = strawberry.field(description="The phone the reset code was sent to.")
    challenge: str = strawberry.field(
        description="`ResetCodeSent.challenge` from this request, unchanged."
    )
    code: str = strawberry.field(description="The digits from the `reset_password` SMS.")
    new_password: str = strawberry.field(description="The new password (same rules as signup).")
    second_factor_code: str | None = strawberry.field(
        default=None,
        description="With the authenticator app on: a code from it, or a recovery code. "
        "Without it such an account's reset is refused (InvalidInput on this field).",
    )


@strawberry.input(description="Changes the password of the logged-in account.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password in use now.")
    new_password: str = strawberry.field(description="The new password (same rules as signup).")


@strawberry.input(
    description="Asks to change the phone and/or username; give at least one of them."
)
class ChangeIdentityInput:
    current_password: str = strawberry.field(description="The password in use now.")
    phone: str | None = strawberry.field(
        default=None, description="New phone: the confirmation code is sent there."
    )
    username: str | None = strawberry.field(
        default=None, description="New username: the code is sent to the current phone."
    )


@strawberry.input(description="Deletes the logged-in account.")
class DeleteAccountInput:
    current_password: str = strawberry.field(description="The password in use now.")
