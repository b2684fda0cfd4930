// A small typed client for phonegate over fetch, using the types graphql-codegen generates
// from schema.graphql and clients/operations/*.graphql (generated/graphql.ts, not committed).
//
// It is type-checked in CI (`tsc --noEmit`, .ci/typescript), so a schema change that breaks
// TypeScript clients fails there: a result union that gains a member no client handles, a
// new error type without advice below, a renamed field or argument.

import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";

import {
  ChangeIdentityDocument,
  ChangePasswordDocument,
  ConfirmIdentityChangeDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshSessionDocument,
  RequestResetDocument,
  ResendVerificationDocument,
  ResetPasswordDocument,
  SetTwoFactorDocument,
  SignupDocument,
  UsernameAvailableDocument,
  VerifyLoginDocument,
  VerifyPhoneDocument,
} from "./generated/graphql.js";

/** Every error type of the schema and what a client should do about it (README table). */
export const ADVICE = {
  InvalidInput: "Show the message next to `field`; let the person fix it and retry.",
  WeakPassword: "Ask for another password; the message says what was wrong.",
  UsernameTaken: "Ask for another username (check with usernameAvailable).",
  PhoneTaken: "The phone belongs to another account: use another number.",
  InvalidCode: "Let the person retype the code; each wrong guess counts.",
  CodeExpired: "Ask for a new code (resend / request again), then use that.",
  TooManyAttempts: "The code is dead: ask for a new one after the resend wait.",
  RateLimited: "Wait retryAfterSeconds, then retry; show the wait.",
  InvalidCredentials: "Let the person retype; offer a password reset.",
  PhoneNotVerified: "Resend the signup code and verify the phone, then log in.",
  NotAuthenticated: "Refresh the access token or log in again, then retry.",
  InvalidToken: "Forget the tokens or challenge and log in again.",
} as const;

export type ErrorTypename = keyof typeof ADVICE;
export type Failure = { __typename: ErrorTypename; message: string };

export class PhonegateError extends Error {
  constructor(readonly failure: Failure) {
    super(`${failure.__typename}: ${failure.message} (${ADVICE[failure.__typename]})`);
  }
}

export class Phonegate {
  constructor(
    private readonly url: string,
    public accessToken: string | null = null,
  ) {}

  async call<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
  ): Promise<Result> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    const response = await fetch(this.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await response.json()) as { data?: Result; errors?: { message: string }[] };
    if (body.errors?.length || !body.data) {
      throw new Error(body.errors?.map((e) => e.message).join("; ") ?? `HTTP ${response.status}`);
    }
    return body.data;
  }
}

/**
 * The member `wanted` of a result union; any other member must be a known error type and is
 * thrown. A union that gains a member that is neither fails to type-check here.
 */
export function expectMember<K extends string, T extends Failure | { __typename: K }>(
  answer: T,
  wanted: K,
): Extract<T, { __typename: K }> {
  if (answer.__typename === wanted) return answer as Extract<T, { __typename: K }>;
  throw new PhonegateError(answer as Failure);
}

/** Every flow, signup to deleteAccount; `readCode` gets the code the person received. */
export async function walkthrough(
  api: Phonegate,
  phone: string,
  newPhone: string,
  readCode: (phone: string, action: string) => Promise<string>,
): Promise<void> {
  const password = "violet tractor oboe 77";
  const free = await api.call(UsernameAvailableDocument, { username: "ada" });
  const username = free.usernameAvailable ? "ada" : undefined;

  const sent = await api.call(SignupDocument, { input: { phone, password, username } });
  const { phone: e164, challenge } = expectMember(sent.signup, "VerificationSent");
  const resent = await api.call(ResendVerificationDocument, { phone: e164, challenge });
  if (resent.resendVerification.__typename === "RateLimited") {
    console.log(`wait ${resent.resendVerification.retryAfterSeconds} s for another code`);
  }
  const verified = await api.call(VerifyPhoneDocument, {
    input: { phone: e164, challenge, code: await readCode(e164, "verify_signup") },
  });
  let session = expectMember(verified.verifyPhone, "Session");
  api.accessToken = session.accessToken;

  const me = await api.call(MeDocument, {});
  console.log(`logged in as ${me.me?.phone ?? "nobody"}`);

  const on = await api.call(SetTwoFactorDocument, {
    input: { currentPassword: password, enabled: true },
  });
  expectMember(on.setTwoFactor, "TwoFactorUpdated");

  session = await logIn(api, e164, password, readCode);
  api.accessToken = session.accessToken;

  const refreshed = await api.call(RefreshSessionDocument, {
    refreshToken: session.refreshToken,
  });
  session = expectMember(refreshed.refreshSession, "Session");
  api.accessToken = session.accessToken;

  const newPassword = "marble cactus lantern 12";
  const changed = await api.call(ChangePasswordDocument, {
    input: { currentPassword: password, newPassword },
  });
  api.accessToken = expectMember(changed.changePassword, "PasswordChanged").session.accessToken;

  const pending = await api.call(ChangeIdentityDocument, {
    input: { currentPassword: newPassword, phone: newPhone },
  });
  const { sentTo } = expectMember(pending.changeIdentity, "IdentityChangePending");
  console.log(`code sent to ${sentTo}`);
  const confirmed = await api.call(ConfirmIdentityChangeDocument, {
    code: await readCode(newPhone, "identity_change"),
  });
  const moved = expectMember(confirmed.confirmIdentityChange, "IdentityChanged").user.phone;

  const resetSent = await api.call(RequestResetDocument, { phone: moved });
  const { challenge: resetChallenge } = expectMember(resetSent.requestReset, "ResetCodeSent");
  const finalPassword = "harbor pepper violin 31";
  const reset = await api.call(ResetPasswordDocument, {
    input: {
      phone: moved,
      challenge: resetChallenge,
      code: await readCode(moved, "reset_password"),
      newPassword: finalPassword,
    },
  });
  expectMember(reset.resetPassword, "PasswordReset");

  session = await logIn(api, moved, finalPassword, readCode);
  api.accessToken = session.accessToken;

  const out = await api.call(LogoutDocument, { refreshToken: session.refreshToken });
  expectMember(out.logout, "LoggedOut");
  api.accessToken = null;
  api.accessToken = (await logIn(api, moved, finalPassword, readCode)).accessToken;
  const deleted = await api.call(DeleteAccountDocument, {
    input: { currentPassword: finalPassword },
  });
  console.log(expectMember(deleted.deleteAccount, "AccountDeleted").message);
}

/** Log in, answering the second factor when two-factor login is on. */
export async function logIn(
  api: Phonegate,
  identifier: string,
  password: string,
  readCode: (phone: string, action: string) => Promise<string>,
) {
  const login = await api.call(LoginDocument, { input: { identifier, password } });
  const answer = login.login;
  switch (answer.__typename) {
    case "Session":
      return answer;
    case "SecondFactorRequired": {
      // The code went to the account's phone; sentTo shows it masked ("+1******0123").
      const code = await readCode(identifier, "login_code");
      const second = await api.call(VerifyLoginDocument, {
        input: { challenge: answer.challenge, code },
      });
      return expectMember(second.verifyLogin, "Session");
    }
    default:
      throw new PhonegateError(answer);
  }
}
