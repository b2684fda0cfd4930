"""The result unions of the contract: each mutation answers one of its members."""

from typing import Annotated, TypeAlias

import strawberry

from schema.types import (
    AccountDeleted,
    CodeExpired,
    DeliveryStatus,
    IdentityChanged,
    IdentityChangePending,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    LoggedOut,
    NotAuthenticated,
    PasswordChanged,
    PasswordReset,
    PhoneNotVerified,
    PhoneTaken,
    RateLimited,
    RecoveryCodes,
    ResetCodeSent,
    SecondFactorRequired,
    Session,
    TooManyAttempts,
    TotpSetup,
    TwoFactorUpdated,
    UsernameTaken,
    VerificationSent,
    WeakPassword,
)


def _union(name: str, description: str) -> object:
    return strawberry.union(name, description=description)


SignupResult: TypeAlias = Annotated[
    VerificationSent | InvalidInput | WeakPassword | UsernameTaken | RateLimited,
    _union(
        "SignupResult",
        "VerificationSent for a new, unverified or already registered phone alike (the "
        "answer never tells which): next `verifyPhone`. Else InvalidInput (fix `field`), "
        "WeakPassword, UsernameTaken or RateLimited (wait `retryAfterSeconds`).",
    ),
]
ResendVerificationResult: TypeAlias = Annotated[
    VerificationSent | InvalidInput | RateLimited,
    _union(
        "ResendVerificationResult",
        "VerificationSent with the same challenge, the same for every phone: next "
        "`verifyPhone`. Else InvalidInput (the phone, or a challenge that is unknown or "
        "expired: `signup` again) or RateLimited (wait `retryAfterSeconds`).",
    ),
]
VerifyPhoneResult: TypeAlias = Annotated[
    Session | InvalidCode | CodeExpired | TooManyAttempts | InvalidInput | RateLimited,
    _union(
        "VerifyPhoneResult",
        "A Session once the phone is verified (logged in). InvalidCode: retype it; "
        "CodeExpired: `resendVerification` for a new code; TooManyAttempts: `signup` again "
        "(a resend never buys more guesses).",
    ),
]
LoginResult: TypeAlias = Annotated[
    Session
    | SecondFactorRequired
    | InvalidCredentials
    | PhoneNotVerified
    | InvalidInput
    | RateLimited,
    _union(
        "LoginResult",
        "A Session, or SecondFactorRequired with two-factor login on (next `verifyLogin`). "
        "PhoneNotVerified: verify the phone first; InvalidCredentials: retype, or reset.",
    ),
]
VerifyLoginResult: TypeAlias = Annotated[
    Session
    | InvalidCode
    | CodeExpired
    | TooManyAttempts
    | InvalidToken
    | InvalidInput
    | RateLimited,
    _union(
        "VerifyLoginResult",
        "A Session once the login code is right. InvalidCode: retype it; CodeExpired, "
        "TooManyAttempts or InvalidToken (challenge dead): start again with `login`. "
        "InvalidInput: the code is not N digits.",
    ),
]
SetTwoFactorResult: TypeAlias = Annotated[
    TwoFactorUpdated | InvalidCredentials | NotAuthenticated | RateLimited,
    _union(
        "SetTwoFactorResult",
        "TwoFactorUpdated with the account as it is now. InvalidCredentials: wrong "
        "current password; NotAuthenticated: log in or refresh the access token.",
    ),
]
RefreshSessionResult: TypeAlias = Annotated[
    Session | InvalidToken,
    _union(
        "RefreshSessionResult",
        "A new Session: replace both tokens (the refresh token given is now used). "
        "InvalidToken: the session is over; log in again.",
    ),
]
LogoutResult: TypeAlias = Annotated[
    LoggedOut | NotAuthenticated | InvalidToken,
    _union(
        "LogoutResult",
        "LoggedOut once the session(s) ended (also when already ended): forget the tokens. "
        "NotAuthenticated: neither a valid access token nor a known refresh token was sent. "
        "InvalidToken: the refresh token sent is no longer current (rotated, logged out); "
        "nothing else was ended.",
    ),
]
RequestResetResult: TypeAlias = Annotated[
    ResetCodeSent | InvalidInput | RateLimited,
    _union(
        "RequestResetResult",
        "ResetCodeSent, the same for known and unknown phones: next `resetPassword`. Else "
        "InvalidInput (the phone) or RateLimited (wait `retryAfterSeconds`).",
    ),
]
ResetPasswordResult: TypeAlias = Annotated[
    PasswordReset
    | InvalidCode
    | CodeExpired
    | TooManyAttempts
    | WeakPassword
    | InvalidInput
    | RateLimited,
    _union(
        "ResetPasswordResult",
        "PasswordReset: log in with the new password. InvalidCode: retype it; CodeExpired "
        "or TooManyAttempts: `requestReset` again; WeakPassword: choose another.",
    ),
]
ChangePasswordResult: TypeAlias = Annotated[
    PasswordChanged | InvalidCredentials | WeakPassword | NotAuthenticated | RateLimited,
    _union(
        "ChangePasswordResult",
        "PasswordChanged with a fresh Session to use from now on. InvalidCredentials: wrong "
        "current password; WeakPassword: choose another; NotAuthenticated: log in.",
    ),
]
ChangeIdentityResult: TypeAlias = Annotated[
    IdentityChangePending
    | InvalidCredentials
    | InvalidInput
    | UsernameTaken
    | PhoneTaken
    | NotAuthenticated
    | RateLimited,
    _union(
        "ChangeIdentityResult",
        "IdentityChangePending once the code was sent: next `confirmIdentityChange`. "
        "PhoneTaken or UsernameTaken: choose another; InvalidCredentials: wrong password.",
    ),
]
ConfirmIdentityChangeResult: TypeAlias = Annotated[
    IdentityChanged
    | InvalidCode
    | CodeExpired
    | TooManyAttempts
    | UsernameTaken
    | PhoneTaken
    | NotAuthenticated
    | RateLimited,
    _union(
        "ConfirmIdentityChangeResult",
        "IdentityChanged once the code is right. InvalidCode: retype it; CodeExpired or "
        "TooManyAttempts: `changeIdentity` again; PhoneTaken or UsernameTaken: taken meanwhile.",
    ),
]
DeleteAccountResult: TypeAlias = Annotated[
    AccountDeleted | InvalidCredentials | NotAuthenticated | RateLimited,
    _union(
        "DeleteAccountResult",
        "AccountDeleted once the password is confirmed: forget the tokens. "
        "InvalidCredentials: wrong password; RateLimited: too many tries, wait "
        "`retryAfterSeconds`; NotAuthenticated: log in.",
    ),
]

# issue 14: second factors beyond SMS
SetupTotpResult: TypeAlias = Annotated[
    TotpSetup | InvalidCredentials | NotAuthenticated | RateLimited,
    _union(
        "SetupTotpResult",
        "TotpSetup: show the QR code, then `confirmTotp` with a code from the app. Else "
        "InvalidCredentials (the password), NotAuthenticated or RateLimited.",
    ),
]
ConfirmTotpResult: TypeAlias = Annotated[
    RecoveryCodes | InvalidCode | NotAuthenticated | RateLimited,
    _union(
        "ConfirmTotpResult",
        "RecoveryCodes: TOTP is on; show the codes once. InvalidCode: the code does not "
        "match the secret from `setupTotp` (check the app's clock), or no setup is pending.",
    ),
]
DisableTotpResult: TypeAlias = Annotated[
    TwoFactorUpdated | InvalidCredentials | NotAuthenticated | RateLimited,
    _union(
        "DisableTotpResult",
        "TwoFactorUpdated: the authenticator app and recovery codes no longer work. Else "
        "InvalidCredentials (the password), NotAuthenticated or RateLimited.",
    ),
]
RegenerateRecoveryCodesResult: TypeAlias = Annotated[
    RecoveryCodes | InvalidCredentials | NotAuthenticated | RateLimited,
    _union(
        "RegenerateRecoveryCodesResult",
        "RecoveryCodes: ten new codes, shown once; the old ones stopped working. Else "
        "InvalidCredentials (the password), NotAuthenticated or RateLimited.",
    ),
]

# --- issue 13: sessions you can see and end ---------------------------------------------------

RevokeSessionResult: TypeAlias = Annotated[
    LoggedOut | InvalidInput | NotAuthenticated,
    _union(
        "RevokeSessionResult",
        "LoggedOut: the session(s) ended; their tokens stop working on their next request. "
        "InvalidInput (field `id`): no such live session of the caller's account; nothing "
        "changed. NotAuthenticated: send a valid access token.",
    ),
]

DeliveryStatusResult: TypeAlias = Annotated[
    DeliveryStatus | RateLimited,
    _union(
        "DeliveryStatusResult",
        "DeliveryStatus of the code a challenge names (the same shape for every challenge, "
        "known or not), or RateLimited (wait `retryAfterSeconds`).",
    ),
]
