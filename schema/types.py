"""Object types and the error types of the contract (schema.graphql; README "Errors and
what to do"), with their descriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from models import AuthSession as AuthSessionModel
from models import SecurityEvent as SecurityEventModel
from models import User as UserModel
from resolvers import events, sessions, totp
from resolvers.tokens import IssuedSession
from schema.context import Info


@strawberry.type(
    description="An account. Only its owner can read it: through `me`, or in a `Session`."
)
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier of the account.")
    phone: str = strawberry.field(description='Phone number in E.164, e.g. "+14155550123".')
    username: str | None = strawberry.field(
        description="Optional public name, unique regardless of case or width."
    )
    is_verified: bool = strawberry.field(
        description="True once the phone was proven with a code; login needs it."
    )
    pending_phone: str | None = strawberry.field(
        description="New phone awaiting `confirmIdentityChange`, if a change is pending."
    )
    two_factor_enabled: bool = strawberry.field(
        description="When true, `login` also needs a code sent by SMS (`verifyLogin`)."
    )
    created_at: datetime = strawberry.field(
        description="When the account was created (signup), with its UTC offset."
    )
    locale: str = strawberry.field(
        description='BCP 47 language tag of the account\'s messages and calls, e.g. "es", '
        '"pt-BR"; chosen at signup.'
    )
    # The session of the request's access token (`me`) or of the Session answered: the one
    # the session list marks `current`. None where no session is at hand.
    current_session_id: strawberry.Private[uuid.UUID | None] = None

    # issue 14: second factors beyond SMS, security history
    @strawberry.field(
        description="When true, `login` also needs a code from the authenticator app (or a "
        "recovery code), and `resetPassword` needs one besides the SMS code."
    )
    async def totp_enabled(self) -> bool:
        return await totp.totp_enabled(int(self.id))

    @strawberry.field(description="Unused recovery codes; make new ones before they run out.")
    async def recovery_codes_left(self) -> int:
        return await totp.recovery_codes_left(int(self.id))

    @strawberry.field(
        description="The account's security history (logins, password and factor changes ...), "
        "newest first; kept 90 days."
    )
    async def security_events(
        self,
        first: Annotated[
            int, strawberry.argument(description="How many of the newest (at most 100).")
        ] = 20,
    ) -> list[SecurityEvent]:
        return [SecurityEvent.of(e) for e in await events.newest(int(self.id), first)]

    # issue 13: sessions you can see and end
    @strawberry.field(
        description="The account's live sessions (one per login), most recently used first: "
        "end one with `revokeSession`, all but this one with `revokeOtherSessions`."
    )
    async def sessions(self, info: Info) -> list[ActiveSession]:
        rows = await sessions.active_sessions(info.context.deps, int(self.id))
        return [ActiveSession.of(row, self.current_session_id) for row in rows]

    @classmethod
    def of(cls, user: UserModel, session_id: uuid.UUID | None = None) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            phone=user.phone,
            username=user.username,
            is_verified=user.is_verified,
            pending_phone=user.pending_phone,
            two_factor_enabled=user.two_factor_enabled,
            created_at=user.created_at,
            locale=user.locale or "en",
            current_session_id=session_id,
        )


@strawberry.type(
    description="One logged-in session of the account (a login on some device), for "
    "`User.sessions`."
)
class ActiveSession:
    id: strawberry.ID = strawberry.field(description="Pass it to `revokeSession` to end it.")
    current: bool = strawberry.field(
        description="True for the session of the access token that asks."
    )
    created_at: datetime = strawberry.field(description="When it logged in.")
    last_used_at: datetime = strawberry.field(description="Its last login or refresh.")
    user_agent: str | None = strawberry.field(
        description="The User-Agent it logged in with (at most 200 characters), if sent."
    )
    ip_address: str | None = strawberry.field(
        description="The client address of its last login or refresh, if known."
    )

    @classmethod
    def of(cls, row: AuthSessionModel, current: uuid.UUID | None) -> ActiveSession:
        return cls(
            id=strawberry.ID(str(row.id)),
            current=row.id == current,
            created_at=row.created_at,
            last_used_at=row.last_used_at or row.created_at,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
        )


@strawberry.type(
    description="A logged-in session: keep both tokens, send the access token with each call "
    "and refresh it before `expiresAt`. Returned by `verifyPhone`, `login`, `verifyLogin`, "
    "`refreshSession` and (inside `PasswordChanged`) `changePassword`."
)
class Session:
    access_token: str = strawberry.field(
        description='JWT to send as "Authorization: Bearer <token>". Short-lived: refresh it '
        "with `refreshSession` before `expiresAt`."
    )
    refresh_token: str | None = strawberry.field(
        description="Opaque, single use: `refreshSession` returns a new one each time. Keep "
        "it away from other scripts; using an old one ends the session. Null in cookie mode "
        "(REFRESH_COOKIE=on): the token is in an HttpOnly cookie that no script can read."
    )
    expires_at: datetime = strawberry.field(
        description="When the access token expires: call `refreshSession` a little before."
    )
    user: User = strawberry.field(description="The account this session belongs to.")

    @classmethod
    def of(cls, issued: IssuedSession) -> Session:
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=issued.expires_at,
            user=User.of(issued.user, issued.session_id),
        )


@strawberry.interface(
    description="Every expected failure of a mutation: nothing was done. Show `message` to the "
    "person and branch on `__typename` for what to do next."
)
class MutationError:
    message: str = strawberry.field(description="What went wrong, in words a person can read.")


@strawberry.type(description="An input was refused; nothing changed. Fix `field` and retry.")
class InvalidInput(MutationError):
    field: str = strawberry.field(
        description='The input field at fault, e.g. "phone", "username", "code".'
    )


@strawberry.type(
    description="The password is too short, too long, common, or built from the phone or "
    "username. `message` says which; choose another."
)
class WeakPassword(MutationError):
    pass


@strawberry.type(description="The username belongs to another account; choose another.")
class UsernameTaken(MutationError):
    pass


@strawberry.type(description="The phone belongs to another account; use another number.")
class PhoneTaken(MutationError):
    pass


@strawberry.type(
    description="The code is wrong (or was already used, or no code is pending for that "
    "phone). Each wrong guess counts toward `TooManyAttempts`: let the person retype it, or ask "
    "for a new code."
)
class InvalidCode(MutationError):
    pass


@strawberry.type(description="The code has expired: ask for a new one and use that.")
class CodeExpired(MutationError):
    pass


@strawberry.type(
    description="Too many wrong guesses: this code is dead. Ask for a new code (after the "
    "resend wait)."
)
class TooManyAttempts(MutationError):
    pass


@strawberry.type(
    description="Too many requests (codes, logins or guesses): nothing was done. Wait "
    "`retryAfterSeconds`, then retry; show the wait to the person."
)
class RateLimited(MutationError):
    retry_after_seconds: int = strawberry.field(
        description="Seconds to wait before retrying; retrying earlier is refused again."
    )


@strawberry.type(
    description="Wrong identifier or password (the same answer for both, by design): let the "
    "person retype them, or offer `requestReset` for a forgotten password."
)
class InvalidCredentials(MutationError):
    pass


@strawberry.type(
    description="The password was right but the phone is not verified yet: call "
    "`resendVerification`, then `verifyPhone`."
)
class PhoneNotVerified(MutationError):
    pass


@strawberry.type(
    description="No valid access token: log in (or `refreshSession`) and send "
    '"Authorization: Bearer <accessToken>".'
)
class NotAuthenticated(MutationError):
    pass


@strawberry.type(
    description="The refresh token or login challenge is unknown, expired, already used or "
    "revoked: forget it and log in again with `login`."
)
class InvalidToken(MutationError):
    pass


@strawberry.type(
    description="A code was sent by SMS (if the phone can have one). Next: `verifyPhone` with it."
)
class VerificationSent:
    phone: str = strawberry.field(
        description='The phone in E.164 ("+14155550123"): pass it to `verifyPhone`.'
    )
    expires_at: datetime = strawberry.field(
        description="When the code expires; after that, `resendVerification`."
    )
    challenge: str = strawberry.field(
        description="Opaque; binds the code to this signup: pass it, unchanged, to "
        "`verifyPhone` and `resendVerification`."
    )


@strawberry.type(
    description="The password was right; a code was sent by SMS. Next: `verifyLogin` with "
    "`challenge` and the code."
)
class SecondFactorRequired:
    challenge: str = strawberry.field(
        description="Opaque: pass it to `verifyLogin` unchanged, with the code."
    )
    sent_to: str | None = strawberry.field(
        description='The masked phone the code went to, e.g. "+1******0123": show it. Null '
        "when no SMS went (SMS is not among `methods`)."
    )
    expires_at: datetime = strawberry.field(
        description="When the code and challenge expire; after that, `login` again."
    )
    methods: list[SecondFactor] = strawberry.field(
        description="The second factors this login can be completed with (`verifyLogin`'s "
        "`method`)."
    )


@strawberry.type(
    description="Two-factor login is now as asked; a `two_factor_changed` notice goes to the phone."
)
class TwoFactorUpdated:
    user: User = strawberry.field(description="The account as it is now (see `twoFactorEnabled`).")


@strawberry.type(
    description="If the phone has an account, a reset code was sent by SMS. Next: "
    "`resetPassword` with it."
)
class ResetCodeSent:
    phone: str = strawberry.field(
        description="The phone in E.164: pass it to `resetPassword` with the code."
    )
    expires_at: datetime = strawberry.field(
        description="When the code expires; after that, `requestReset` again."
    )
    challenge: str = strawberry.field(
        description="Opaque; binds the code to this request: pass it, unchanged, to "
        "`resetPassword`."
    )


@strawberry.type(description="The password was reset; every session ended. Next: `login`.")
class PasswordReset:
    message: str = strawberry.field(description="A confirmation to show the person.")


@strawberry.type(
    description="The password was changed; every other session ended. Use the new session."
)
class PasswordChanged:
    session: Session = strawberry.field(
        description="A fresh session: use its tokens from now on (the old ones stopped working)."
    )


@strawberry.type(
    description="An `identity_change` code was sent to confirm the change (to the new phone, "
    "or the current one for a username change); nothing changed yet. Next: "
    "`confirmIdentityChange` with the code."
)
class IdentityChangePending:
    sent_to: str = strawberry.field(
        description='The masked phone the code went to, e.g. "+1******0123": show it.'
    )
    expires_at: datetime = strawberry.field(
        description="When the code expires; after that, `changeIdentity` again."
    )


@strawberry.type(
    description="The phone and/or username changed; every other session ended, this one "
    "goes on. Log in with the new phone or username from now on."
)
class IdentityChanged:
    user: User = strawberry.field(description="The account as it is now, with the new values.")


@strawberry.type(
    description="The session ended (or every session, with `everywhere`): forget its tokens."
)
class LoggedOut:
    message: str = strawberry.field(description="A confirmation to show the person.")


@strawberry.type(
    description="The account and every session are gone; an `account_deleted` notice goes to "
    "the phone. Forget the tokens."
)
class AccountDeleted:
    message: str = strawberry.field(description="A confirmation to show the person.")


# --- issue 14: second factors beyond SMS, recovery, security history -------------------------


@strawberry.enum(
    description="How a code goes to the phone. Only the channels in the server's "
    "ALLOWED_CHANNELS are accepted (else InvalidInput on `channel`)."
)
class Channel(Enum):
    SMS = strawberry.enum_value("sms", description="A text message.")
    VOICE = strawberry.enum_value(
        "voice", description="A phone call that reads the code digit by digit, twice."
    )
    WHATSAPP = strawberry.enum_value("whatsapp", description="A WhatsApp message.")


@strawberry.enum(description="What happened to the message carrying a code.")
class DeliveryState(Enum):
    QUEUED = strawberry.enum_value(
        "queued", description="Accepted and on its way (or no further news is shown)."
    )
    SENT = strawberry.enum_value("sent", description="Handed to the phone network.")
    DELIVERED = strawberry.enum_value(
        "delivered", description="The phone got it (for a call: it was answered)."
    )
    FAILED = strawberry.enum_value("failed", description="It did not arrive; see `reason`.")


@strawberry.type(
    description="What a person waiting for a code may see of its message. It never tells "
    "whether the phone is registered: a signup shows its real message (the code, or the "
    "notice a registered phone's owner gets instead); a reset or login code shows QUEUED "
    "only; an unknown challenge answers like a reset."
)
class DeliveryStatus:
    status: DeliveryState = strawberry.field(description="Where the message is.")
    channel: Channel = strawberry.field(description="How it goes: SMS, VOICE or WHATSAPP.")
    reason: str | None = strawberry.field(
        description="Why it failed, in plain words (Accept-Language); null unless FAILED."
    )


@strawberry.enum(description="A second factor that can complete a login.")
class SecondFactor(Enum):
    SMS = strawberry.enum_value("sms", description="A `login_code` sent by SMS.")
    TOTP = strawberry.enum_value("totp", description="A code from the authenticator app.")
    RECOVERY_CODE = strawberry.enum_value(
        "recovery_code", description="One of the account's recovery codes (each works once)."
    )


@strawberry.type(
    description="A new authenticator-app secret, shown once: let the person scan "
    "`otpauthUri` as a QR code (or type `secret`), then `confirmTotp` with a code from the app."
)
class TotpSetup:
    secret: str = strawberry.field(description="The secret in base32, to type into the app.")
    otpauth_uri: str = strawberry.field(
        description="The `otpauth://totp/...` URI to show as a QR code."
    )


@strawberry.type(
    description="Recovery codes, shown once: let the person keep them. Each works once, "
    "instead of an authenticator code (login, reset)."
)
class RecoveryCodes:
    codes: list[str] = strawberry.field(description="Ten codes; each works once.")


@strawberry.type(description="One entry of the account's security history.")
class SecurityEvent:
    kind: str = strawberry.field(
        description='What happened: "signup", "login", "login_failed", "password_changed", '
        '"password_reset", "identity_changed", "two_factor_changed", "totp_enabled", '
        '"totp_disabled", "recovery_code_used", "recovery_codes_regenerated", "session_revoked".'
    )
    at: datetime = strawberry.field(description="When, with its UTC offset.")
    ip_address: str | None = strawberry.field(description="The client address, if known.")
    user_agent: str | None = strawberry.field(
        description="The client's User-Agent, at most 200 characters, if sent."
    )

    @classmethod
    def of(cls, event: SecurityEventModel) -> SecurityEvent:
        return cls(
            kind=event.kind, at=event.at, ip_address=event.ip_address, user_agent=event.user_agent
        )
