"""The result unions of the contract: each mutation answers one of its members."""

from typing import Annotated, TypeAlias

import strawberry

from schema.types import (
    AccountDeleted,
    CodeExpired,
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
    ResetCodeSent,
    SecondFactorRequired,
    Session,
    TooManyAttempts,
    TwoFactorUpdated,
    UsernameTaken,
    VerificationSent,
    WeakPassword,
)


def _union(name: str, description: str) -> object:
    return strawberry.union(name, description=description)


SignupResult: TypeAlias = Annotated[
    VerificationSent | InvalidInput | WeakPassword | UsernameTaken | RateLimited,
    _union("SignupResult", "VerificationSent, whether or not the phone is registered."),
]
ResendVerificationResult: TypeAlias = Annotated[
    VerificationSent | InvalidInput | RateLimited,
    _union("ResendVerificationResult", "The same answer for known and unknown phones."),
]
VerifyPhoneResult: TypeAlias = Annotated[
    Session | InvalidCode | CodeExpired | TooManyAttempts | InvalidInput | RateLimited,
    _union("VerifyPhoneResult", "A Session once the phone is verified."),
]
LoginResult: TypeAlias = Annotated[
    Session
    | SecondFactorRequired
    | InvalidCredentials
    | PhoneNotVerified
    | InvalidInput
    | RateLimited,
    _union("LoginResult", "A Session, or SecondFactorRequired with two-factor login on."),
]
VerifyLoginResult: TypeAlias = Annotated[
    Session | InvalidCode | CodeExpired | TooManyAttempts | InvalidToken | RateLimited,
    _union("VerifyLoginResult", "A Session once the login code is right."),
]
SetTwoFactorResult: TypeAlias = Annotated[
    TwoFactorUpdated | InvalidCredentials | NotAuthenticated | RateLimited,
    _union("SetTwoFactorResult", "TwoFactorUpdated with the account as it is now."),
]
RefreshSessionResult: TypeAlias = Annotated[
    Session | InvalidToken,
    _union("RefreshSessionResult", "A new Session; the refresh token given is now used."),
]
LogoutResult: TypeAlias = Annotated[
    LoggedOut | NotAuthenticated,
    _union("LogoutResult", "LoggedOut once the session(s) ended."),
]
RequestResetResult: TypeAlias = Annotated[
    ResetCodeSent | InvalidInput | RateLimited,
    _union("RequestResetResult", "The same answer for known and unknown phones."),
]
ResetPasswordResult: TypeAlias = Annotated[
    PasswordReset
    | InvalidCode
    | CodeExpired
    | TooManyAttempts
    | WeakPassword
    | InvalidInput
    | RateLimited,
    _union("ResetPasswordResult", "PasswordReset; then log in with the new password."),
]
ChangePasswordResult: TypeAlias = Annotated[
    PasswordChanged | InvalidCredentials | WeakPassword | NotAuthenticated | RateLimited,
    _union("ChangePasswordResult", "PasswordChanged with a fresh session."),
]
ChangeIdentityResult: TypeAlias = Annotated[
    IdentityChangePending
    | InvalidCredentials
    | InvalidInput
    | UsernameTaken
    | PhoneTaken
    | NotAuthenticated
    | RateLimited,
    _union("ChangeIdentityResult", "IdentityChangePending once the code was sent."),
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
    _union("ConfirmIdentityChangeResult", "IdentityChanged once the code is right."),
]
DeleteAccountResult: TypeAlias = Annotated[
    AccountDeleted | InvalidCredentials | NotAuthenticated,
    _union("DeleteAccountResult", "AccountDeleted once the password is confirmed."),
]
