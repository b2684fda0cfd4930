"""Query and Mutation: parse, call a flow in resolvers/, map its result or error."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import account, delivery, identity, reset, second_factors, sessions, signup
from resolvers.errors import DomainError
from schema import inputs as i
from schema import refresh_cookie
from schema import results as r
from schema.context import Info
from schema.errors import not_authenticated, said, to_result
from schema.types import (
    AccountDeleted,
    Channel,
    DeliveryState,
    DeliveryStatus,
    IdentityChanged,
    IdentityChangePending,
    LoggedOut,
    PasswordChanged,
    PasswordReset,
    RecoveryCodes,
    ResetCodeSent,
    SecondFactor,
    SecondFactorRequired,
    TotpSetup,
    TwoFactorUpdated,
    User,
    VerificationSent,
)

CHANNEL_HELP = (
    "How the code goes: SMS (default), VOICE (a call that reads it) or WHATSAPP; one of the "
    "server's ALLOWED_CHANNELS, else InvalidInput on `channel` and nothing is sent."
)


@strawberry.type(
    description='Read the caller\'s account (send "Authorization: Bearer <accessToken>") and '
    "check usernames."
)
class Query:
    @strawberry.field(description="The caller's account, or null without a valid access token.")
    async def me(self, info: Info) -> User | None:
        caller = await info.context.caller()
        return User.of(caller.user, caller.session_id) if caller else None

    @strawberry.field(
        description="Whether a username is free to take (false for invalid usernames)."
    )
    async def username_available(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description="The username to check.")],
    ) -> bool:
        return await signup.username_available(info.context.deps, username)

    @strawberry.field(
        description="What happened to the code a challenge (from `signup`, "
        "`resendVerification`, `requestReset` or `login`) is waiting for: poll it every few "
        "seconds; offer a resend by VOICE when it does not arrive. Never tells whether a "
        "phone is registered (see DeliveryStatus)."
    )
    async def delivery_status(
        self,
        info: Info,
        challenge: Annotated[
            str, strawberry.argument(description="The challenge as answered, unchanged.")
        ],
    ) -> r.DeliveryStatusResult:
        ctx = info.context
        try:
            seen = await delivery.status(ctx.deps, ctx.client, challenge)
        except DomainError as e:
            return to_result(e, info)
        return DeliveryStatus(
            status=DeliveryState[seen.status.upper()],
            channel=Channel[seen.channel.upper()],
            reason=said(seen.reason, info) if seen.reason else None,
        )


@strawberry.type(
    description="Every account flow. Expected failures are members of each result union "
    "(implementing `MutationError`), never GraphQL `errors`."
)
class Mutation:
    @strawberry.mutation(
        description="Start an account: sends a `verify_signup` code to the phone. Answers "
        "VerificationSent for new, unverified and registered phones alike."
    )
    async def signup(
        self,
        info: Info,
        input: Annotated[
            i.SignupInput, strawberry.argument(description="Phone, password and optional username.")
        ],
    ) -> r.SignupResult:
        ctx = info.context
        try:
            sent = await signup.start(
                ctx.deps,
                ctx.client,
                input.phone,
                input.password,
                input.username,
                locale=input.locale,
                channel=input.channel.name.lower(),
            )
        except DomainError as e:
            return to_result(e, info)
        return VerificationSent(
            phone=sent.phone, expires_at=sent.expires_at, challenge=sent.challenge
        )

    @strawberry.mutation(
        description="Send this signup's `verify_signup` code again (after the resend wait; "
        "the same answer for every phone) and answer the same challenge. Next: `verifyPhone`."
    )
    async def resend_verification(
        self,
        info: Info,
        phone: Annotated[
            str, strawberry.argument(description="The phone signed up with, in any common format.")
        ],
        challenge: Annotated[
            str, strawberry.argument(description="`VerificationSent.challenge` of the signup.")
        ],
        channel: Annotated[
            Channel,
            strawberry.argument(
                description=CHANNEL_HELP + " A resend may switch channel: the code's count "
                "of wrong guesses carries over."
            ),
        ] = Channel.SMS,
    ) -> r.ResendVerificationResult:
        ctx = info.context
        try:
            sent = await signup.resend(ctx.deps, ctx.client, phone, challenge, channel.name.lower())
        except DomainError as e:
            return to_result(e, info)
        return VerificationSent(
            phone=sent.phone, expires_at=sent.expires_at, challenge=sent.challenge
        )

    @strawberry.mutation(
        description="Prove the phone with its `verify_signup` code; answers a Session (logged in)."
    )
    async def verify_phone(
        self,
        info: Info,
        input: Annotated[
            i.VerifyPhoneInput,
            strawberry.argument(description="The phone, the signup's challenge and its code."),
        ],
    ) -> r.VerifyPhoneResult:
        ctx = info.context
        try:
            issued = await signup.verify(
                ctx.deps, ctx.client, input.phone, input.challenge, input.code
            )
        except DomainError as e:
            return to_result(e, info)
        return refresh_cookie.answer(ctx, issued)

    @strawberry.mutation(
        description="Log in with phone or username and password. With two-factor login on, "
        "answers SecondFactorRequired and sends a `login_code` SMS."
    )
    async def login(
        self,
        info: Info,
        input: Annotated[
            i.LoginInput, strawberry.argument(description="Phone or username, and password.")
        ],
        channel: Annotated[
            Channel,
            strawberry.argument(
                description=CHANNEL_HELP + " Used when the login answers SecondFactorRequired "
                "with a `login_code`. A top-level argument rather than a LoginInput field, as "
                "the contract names it an argument of `login`, like those of "
                "`resendVerification` and `requestReset`."
            ),
        ] = Channel.SMS,
    ) -> r.LoginResult:
        ctx = info.context
        try:
            outcome = await sessions.login(
                ctx.deps, ctx.client, input.identifier, input.password, channel.name.lower()
            )
        except DomainError as e:
            return to_result(e, info)
        if isinstance(outcome, sessions.SecondFactor):
            return SecondFactorRequired(
                challenge=outcome.challenge,
                sent_to=outcome.sent_to,
                expires_at=outcome.expires_at,
                methods=[SecondFactor[m.upper()] for m in outcome.methods],
            )
        return refresh_cookie.answer(ctx, outcome)

    @strawberry.mutation(
        description="Complete a login that answered SecondFactorRequired with the `login_code` "
        "SMS code; answers a Session."
    )
    async def verify_login(
        self,
        info: Info,
        input: Annotated[
            i.VerifyLoginInput,
            strawberry.argument(description="The challenge from `login` and the SMS code."),
        ],
    ) -> r.VerifyLoginResult:
        ctx = info.context
        try:
            issued = await sessions.verify_login(
                ctx.deps, ctx.client, input.challenge, input.code, input.method.name.lower()
            )
        except DomainError as e:
            return to_result(e, info)
        return refresh_cookie.answer(ctx, issued)

    @strawberry.mutation(
        description="Turn two-factor login on or off for the caller (logged in; sends a notice)."
    )
    async def set_two_factor(
        self,
        info: Info,
        input: Annotated[
            i.SetTwoFactorInput,
            strawberry.argument(description="The current password and the wanted state."),
        ],
    ) -> r.SetTwoFactorResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            user = await account.set_two_factor(
                ctx.deps, caller, input.current_password, input.enabled, ctx.client
            )
        except DomainError as e:
            return to_result(e, info)
        return TwoFactorUpdated(user=User.of(user))

    @strawberry.mutation(
        description="Trade a refresh token for a new Session (new access and refresh token). Call "
        "it before the access token's `expiresAt`; each refresh token works once. In cookie "
        "mode call it without the argument: the refresh cookie is used (and renewed)."
    )
    async def refresh_session(
        self,
        info: Info,
        refresh_token: Annotated[
            str | None,
            strawberry.argument(
                description="The latest `Session.refreshToken` received (omit in cookie mode)."
            ),
        ] = None,
    ) -> r.RefreshSessionResult:
        ctx = info.context
        try:
            given = refresh_cookie.token_given(ctx, refresh_token) or ""
            issued = await sessions.refresh(ctx.deps, given, ctx.client)
        except DomainError as e:
            refresh_cookie.clear(ctx)  # its token is no longer current
            return to_result(e, info)
        return refresh_cookie.answer(ctx, issued)

    @strawberry.mutation(
        description="End the session named by the access token and/or refresh token given (at "
        "least one of them), or every session of the account with `everywhere`. In cookie "
        "mode the refresh cookie stands for the argument, and is cleared."
    )
    async def logout(
        self,
        info: Info,
        refresh_token: Annotated[
            str | None,
            strawberry.argument(description="Also end this refresh token's session (send it)."),
        ] = None,
        everywhere: Annotated[
            bool,
            strawberry.argument(description="True: end every session of the account, everywhere."),
        ] = False,
    ) -> r.LogoutResult:
        ctx = info.context
        given = refresh_cookie.token_given(ctx, refresh_token)
        refresh_cookie.clear(ctx)
        try:
            await sessions.logout(ctx.deps, await ctx.caller(), given, everywhere, ctx.client)
        except DomainError as e:
            return to_result(e, info)
        return LoggedOut(
            message=said("Logged out everywhere." if everywhere else "Logged out.", info)
        )

    @strawberry.mutation(
        description="Send a `reset_password` code if the phone has an account (same answer "
        "either way)."
    )
    async def request_reset(
        self,
        info: Info,
        phone: Annotated[
            str, strawberry.argument(description="The account's phone, in any common format.")
        ],
        channel: Annotated[Channel, strawberry.argument(description=CHANNEL_HELP)] = Channel.SMS,
    ) -> r.RequestResetResult:
        ctx = info.context
        try:
            sent = await reset.request(ctx.deps, ctx.client, phone, channel.name.lower())
        except DomainError as e:
            return to_result(e, info)
        return ResetCodeSent(phone=sent.phone, expires_at=sent.expires_at, challenge=sent.challenge)

    @strawberry.mutation(
        description="Set a new password with the reset code; ends every session, logs nobody in."
    )
    async def reset_password(
        self,
        info: Info,
        input: Annotated[
            i.ResetPasswordInput,
            strawberry.argument(description="The phone, its reset code and the new password."),
        ],
    ) -> r.ResetPasswordResult:
        ctx = info.context
        try:
            await reset.complete(
                ctx.deps,
                ctx.client,
                input.phone,
                input.challenge,
                input.code,
                input.new_password,
                input.second_factor_code,
            )
        except DomainError as e:
            return to_result(e, info)
        refresh_cookie.clear(ctx)  # every session ended; the reset logs nobody in
        return PasswordReset(message=said("Password reset. Log in with the new password.", info))

    @strawberry.mutation(
        description="Change the caller's password (logged in). Every session ends, this one too: "
        "use the fresh Session in PasswordChanged."
    )
    async def change_password(
        self,
        info: Info,
        input: Annotated[
            i.ChangePasswordInput,
            strawberry.argument(description="The current and the new password."),
        ],
    ) -> r.ChangePasswordResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            issued = await account.change_password(
                ctx.deps, caller, input.current_password, input.new_password, ctx.client
            )
        except DomainError as e:
            return to_result(e, info)
        return PasswordChanged(session=refresh_cookie.answer(ctx, issued))

    @strawberry.mutation(
        description="Ask to change phone and/or username; a code goes to the new phone (or "
        "the current one for a username change). Nothing changes before confirmation."
    )
    async def change_identity(
        self,
        info: Info,
        input: Annotated[
            i.ChangeIdentityInput,
            strawberry.argument(
                description="The current password and the new phone and/or username."
            ),
        ],
    ) -> r.ChangeIdentityResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            pending = await identity.request(
                ctx.deps, ctx.client, caller, input.current_password, input.phone, input.username
            )
        except DomainError as e:
            return to_result(e, info)
        return IdentityChangePending(sent_to=pending.sent_to, expires_at=pending.expires_at)

    @strawberry.mutation(
        description="Apply the caller's pending identity change with its `identity_change` code "
        "(logged in)."
    )
    async def confirm_identity_change(
        self,
        info: Info,
        code: Annotated[
            str, strawberry.argument(description="The digits from the `identity_change` SMS.")
        ],
    ) -> r.ConfirmIdentityChangeResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            user = await identity.confirm(ctx.deps, ctx.client, caller, code)
        except DomainError as e:
            return to_result(e, info)
        return IdentityChanged(user=User.of(user))

    @strawberry.mutation(
        description="Delete the caller's account and every session (logged in; asks for the "
        "password; sends a notice)."
    )
    async def delete_account(
        self,
        info: Info,
        input: Annotated[
            i.DeleteAccountInput,
            strawberry.argument(description="The current password, to confirm."),
        ],
    ) -> r.DeleteAccountResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            await account.delete(ctx.deps, caller, input.current_password)
        except DomainError as e:
            return to_result(e, info)
        refresh_cookie.clear(ctx)
        return AccountDeleted(message=said("Account deleted.", info))

    # --- issue 14: second factors beyond SMS -----------------------------------------------

    @strawberry.mutation(
        description="Start enrolling an authenticator app (logged in; asks for the password): "
        "answers a new secret and its `otpauth://` URI, shown once. Next: `confirmTotp`."
    )
    async def setup_totp(
        self,
        info: Info,
        current_password: Annotated[
            str, strawberry.argument(description="The current password, to confirm.")
        ],
    ) -> r.SetupTotpResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            made = await second_factors.setup(ctx.deps, caller, current_password)
        except DomainError as e:
            return to_result(e, info)
        return TotpSetup(secret=made.secret, otpauth_uri=made.otpauth_uri)

    @strawberry.mutation(
        description="Turn the authenticator app on with a code it shows for the secret from "
        "`setupTotp`; answers the first ten recovery codes (shown once; sends a notice)."
    )
    async def confirm_totp(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="The 6 digits the app shows.")],
    ) -> r.ConfirmTotpResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            codes = await second_factors.confirm(ctx.deps, ctx.client, caller, code)
        except DomainError as e:
            return to_result(e, info)
        return RecoveryCodes(codes=codes)

    @strawberry.mutation(
        description="Turn the authenticator app off and end the recovery codes (logged in; "
        "asks for the password; sends a notice)."
    )
    async def disable_totp(
        self,
        info: Info,
        current_password: Annotated[
            str, strawberry.argument(description="The current password, to confirm.")
        ],
    ) -> r.DisableTotpResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            user = await second_factors.disable(ctx.deps, ctx.client, caller, current_password)
        except DomainError as e:
            return to_result(e, info)
        return TwoFactorUpdated(user=User.of(user))

    @strawberry.mutation(
        description="Make ten new recovery codes, shown once; the old ones stop working "
        "(logged in; asks for the password; sends a notice)."
    )
    async def regenerate_recovery_codes(
        self,
        info: Info,
        current_password: Annotated[
            str, strawberry.argument(description="The current password, to confirm.")
        ],
    ) -> r.RegenerateRecoveryCodesResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            codes = await second_factors.regenerate_recovery_codes(
                ctx.deps, ctx.client, caller, current_password
            )
        except DomainError as e:
            return to_result(e, info)
        return RecoveryCodes(codes=codes)

    # --- issue 13: sessions you can see and end --------------------------------------------

    @strawberry.mutation(
        description="End one of the caller's sessions (see `me { sessions }`), this one too: "
        "its tokens stop working on their next request. Sends no SMS."
    )
    async def revoke_session(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The `id` of one of `me { sessions }` to end."),
        ],
    ) -> r.RevokeSessionResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        try:
            await sessions.revoke_session(ctx.deps, caller, str(id), ctx.client)
        except DomainError as e:
            return to_result(e, info)
        if str(id) == str(caller.session_id):
            refresh_cookie.clear(ctx)  # this one ended: its cookie is of no more use
        return LoggedOut(message=said("Session ended.", info))

    @strawberry.mutation(
        description="End every session of the caller's account except this one (a lost "
        "device, a shared computer). Sends no SMS."
    )
    async def revoke_other_sessions(self, info: Info) -> r.RevokeSessionResult:
        ctx = info.context
        caller = await ctx.caller()
        if caller is None:
            return not_authenticated(info)
        await sessions.revoke_other_sessions(ctx.deps, caller, ctx.client)
        return LoggedOut(message=said("Every other session ended.", info))
