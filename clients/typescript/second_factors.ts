// Second factors beyond SMS with phonegate-client: set up an authenticator app, keep the
// recovery codes, log in with the app and with a recovery code, a reset that needs the
// second factor (secondFactorCode), the security history, new recovery codes, the app off.
// Typed by the generated documents like example.ts; type-checked by `npm run build` and run
// with Node against a started server by tests/test_client_typescript.py:
//
//   node dist/second_factors.js http://127.0.0.1:8000/graphql +14155550142 <code>
//
// (the code: a server with TEST_PHONE_CODES gives the phone that fixed code). The app's
// codes are computed from the otpauth:// URI with the otpauth package (a devDependency),
// as the app on a phone does.

import * as OTPAuth from "otpauth";

import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  LoginDocument,
  Phonegate,
  RegenerateRecoveryCodesDocument,
  RequestResetDocument,
  ResetPasswordDocument,
  SecurityActivityDocument,
  type SecondFactor,
  SetupTotpDocument,
  SignupDocument,
  VerifyLoginDocument,
  VerifyPhoneDocument,
  expectMember,
} from "./src/index.js";

/** The code an authenticator app shows for `otpauthUri` at `at` (ms since the epoch). */
export function totpCode(otpauthUri: string, at = Date.now()): string {
  const app = OTPAuth.URI.parse(otpauthUri);
  if (!(app instanceof OTPAuth.TOTP)) throw new Error(`not a TOTP URI: ${otpauthUri}`);
  return app.generate({ timestamp: at });
}

export async function secondFactors(
  api: Phonegate,
  phone: string,
  readCode: (phone: string, action: string) => Promise<string>,
): Promise<void> {
  const password = "violet tractor oboe 77";
  const sent = await api.call(SignupDocument, { input: { phone, password } });
  const { phone: e164, challenge } = expectMember(sent.signup, "VerificationSent");
  const verified = await api.call(VerifyPhoneDocument, {
    input: { phone: e164, challenge, code: await readCode(e164, "verify_signup") },
  });
  api.accessToken = expectMember(verified.verifyPhone, "Session").accessToken;

  // Show otpauthUri as a QR code (the secret as text for typing in); confirm with a code.
  const setup = await api.call(SetupTotpDocument, { currentPassword: password });
  const { otpauthUri } = expectMember(setup.setupTotp, "TotpSetup");
  const confirmed = await api.call(ConfirmTotpDocument, { code: totpCode(otpauthUri) });
  const { codes } = expectMember(confirmed.confirmTotp, "RecoveryCodes"); // shown once
  console.log(`recovery codes: ${codes.length}`);

  // The code confirmed above used its time step: the next step's code (within the drift
  // window) logs in. Then a recovery code, which works once.
  api.accessToken = null;
  const next = totpCode(otpauthUri, Date.now() + 30_000);
  await logIn(api, e164, password, "TOTP", next);
  await logIn(api, e164, password, "RECOVERY_CODE", codes[0]!);
  const again = await api.call(LoginDocument, { input: { identifier: e164, password } });
  const reused = await api.call(VerifyLoginDocument, {
    input: {
      challenge: only(again.login, "SecondFactorRequired").challenge,
      code: codes[0]!,
      method: "RECOVERY_CODE",
    },
  });
  console.log(`recovery code again: ${reused.verifyLogin.__typename}`);

  // A reset by SMS alone is refused for this account: it needs the second factor too.
  const resetSent = await api.call(RequestResetDocument, { phone: e164 });
  const reset = {
    phone: e164,
    challenge: expectMember(resetSent.requestReset, "ResetCodeSent").challenge,
    code: await readCode(e164, "reset_password"),
    newPassword: "harbor pepper violin 31",
  };
  const refused = await api.call(ResetPasswordDocument, { input: reset });
  const asked = only(refused.resetPassword, "InvalidInput");
  console.log(`reset without the second factor: InvalidInput on ${asked.field}`);
  const done = await api.call(ResetPasswordDocument, {
    input: { ...reset, secondFactorCode: codes[1]! },
  });
  expectMember(done.resetPassword, "PasswordReset");

  const session = await logIn(api, e164, reset.newPassword, "RECOVERY_CODE", codes[2]!);
  api.accessToken = session.accessToken;
  const activity = await api.call(SecurityActivityDocument, { first: 5 });
  const kinds = activity.me?.securityEvents.map((event) => event.kind) ?? [];
  console.log(`codes left: ${activity.me?.recoveryCodesLeft}; newest events: ${kinds.join(" ")}`);

  const fresh = await api.call(RegenerateRecoveryCodesDocument, {
    currentPassword: reset.newPassword,
  });
  expectMember(fresh.regenerateRecoveryCodes, "RecoveryCodes");
  const off = await api.call(DisableTotpDocument, { currentPassword: reset.newPassword });
  const user = expectMember(off.disableTotp, "TwoFactorUpdated").user;
  console.log(`authenticator app ${user.totpEnabled ? "on" : "off"}`);
}

/** Log in with the authenticator app's code or a recovery code (`method`). */
async function logIn(
  api: Phonegate,
  identifier: string,
  password: string,
  method: SecondFactor,
  code: string,
) {
  const login = await api.call(LoginDocument, { input: { identifier, password } });
  const { challenge, methods, sentTo } = only(login.login, "SecondFactorRequired");
  console.log(`methods: ${methods.join(" ")}; SMS sent to: ${sentTo ?? "none"}`);
  const second = await api.call(VerifyLoginDocument, { input: { challenge, code, method } });
  return expectMember(second.verifyLogin, "Session");
}

/**
 * The member `wanted` of a result union when another non-error member is possible too (a
 * login's Session, a reset's expected InvalidInput), where expectMember does not apply.
 */
function only<T extends { __typename: string }, K extends T["__typename"]>(
  answer: T,
  wanted: K,
): Extract<T, { __typename: K }> {
  if (answer.__typename !== wanted) {
    throw new Error(`expected ${wanted}, got ${JSON.stringify(answer)}`);
  }
  return answer as Extract<T, { __typename: K }>;
}

declare const process: { argv: string[]; exitCode?: number };

if (process.argv[1]?.endsWith("second_factors.js")) {
  const [url, phone, code] = process.argv.slice(2);
  if (!url || !phone || !code) {
    console.error("usage: node dist/second_factors.js <graphql url> <phone> <code>");
    process.exitCode = 2;
  } else {
    await secondFactors(new Phonegate(url), phone, async () => code);
    console.log("second factors done");
  }
}
