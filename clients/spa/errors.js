// Every error type of the API (the members of the result unions that implement
// MutationError), in words a person can act on. The server's `message` is already readable;
// these say what to do next. tests/test_spa_browser.py checks that every error type of the
// schema has an entry here.

const FIELD_WORDS = {
  phone: "phone number",
  username: "username",
  code: "code",
  password: "password",
  identifier: "phone number or username",
  newPassword: "new password",
  currentPassword: "current password",
  secondFactorCode: "code from your authenticator app (or a recovery code)",
};

// A wrong code, by what the person typed it from (`factor`, set by second_factors.js).
const WRONG_CODE = {
  SMS: "That code is not right. Check the SMS and type it again, or ask for a new code.",
  TOTP:
    "That code is not right. Type the code your authenticator app shows now (it changes " +
    "every 30 seconds; each code works once).",
  RECOVERY_CODE:
    "That recovery code is not right or was already used: each works once. Try another one.",
  RESET:
    "A code is not right: check the code from the SMS and the one from your authenticator " +
    "app (or the recovery code).",
};

export const ERROR_WORDS = {
  InvalidInput: (e) => `Please check the ${FIELD_WORDS[e.field] ?? e.field}: ${e.message}`,
  WeakPassword: (e) => `Please choose a stronger password. ${e.message}`,
  UsernameTaken: () => "That username belongs to someone else. Please choose another one.",
  PhoneTaken: () =>
    "That phone number belongs to another account. Please use a different number.",
  InvalidCode: (e) => WRONG_CODE[e.factor] ?? WRONG_CODE.SMS,
  CodeExpired: () => "That code has expired. Ask for a new code and enter that one.",
  TooManyAttempts: () =>
    "Too many wrong codes: this code no longer works. Please ask for a new code.",
  RateLimited: (e) => `Not so fast: please wait ${wait(e.retryAfterSeconds)}, then try again.`,
  InvalidCredentials: (e) =>
    `${e.message} Check what you typed, or reset your password if you forgot it.`,
  PhoneNotVerified: () =>
    "Your phone number is not verified yet. Enter the code we sent, or ask for a new one.",
  NotAuthenticated: () => "You are not logged in any more. Please log in again.",
  InvalidToken: () => "This login has expired or was already used. Please start again.",
};

/** The words for an error member of a result union (or a fault). */
export function describe(error) {
  const words = ERROR_WORDS[error.__typename];
  return words ? words(error) : error.message || "Something went wrong. Please try again.";
}

export function isError(answer) {
  return answer !== null && typeof answer === "object" && answer.__typename in ERROR_WORDS;
}

export function wait(seconds) {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
