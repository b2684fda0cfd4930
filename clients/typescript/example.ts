// The walkthrough with phonegate-client (src/): every flow, signup to deleteAccount, typed
// by the documents graphql-codegen generates from schema.graphql and clients/operations/.
//
// Type-checked and run in CI: `npm run build` (tsc) fails when a schema change breaks
// TypeScript clients (a result union that gains a member no client handles, a new error type
// without advice, a renamed field or argument), and tests/test_client_typescript.py runs it
// with Node against a started server:
//
//   node dist/example.js http://127.0.0.1:8000/graphql +14155550142 +14155550143 <code>
//
// (the code: a server with TEST_PHONE_CODES gives both phones that fixed code).

import {
  ChangeIdentityDocument,
  ChangePasswordDocument,
  ConfirmIdentityChangeDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  Phonegate,
  PhonegateError,
  RefreshSessionDocument,
  RequestResetDocument,
  ResendVerificationDocument,
  ResetPasswordDocument,
  SetTwoFactorDocument,
  SignupDocument,
  UsernameAvailableDocument,
  VerifyLoginDocument,
  VerifyPhoneDocument,
  expectMember,
} from "./src/index.js";

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

declare const process: { argv: string[]; exitCode?: number };

if (process.argv[1]?.endsWith("example.js")) {
  const [url, phone, newPhone, code] = process.argv.slice(2);
  if (!url || !phone || !newPhone || !code) {
    console.error("usage: node dist/example.js <graphql url> <phone> <new phone> <code>");
    process.exitCode = 2;
  } else {
    await walkthrough(new Phonegate(url), phone, newPhone, async () => code);
    console.log("walkthrough done");
  }
}
