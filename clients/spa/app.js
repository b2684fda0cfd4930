// The reference SPA: walks a person through signup, verification, login (with the second
// factor when it is on), their account, password reset, password change, identity change,
// logout and deletion. Every answer is matched on its `__typename`; every error type is
// shown in words (errors.js). Tokens stay inside session.js.

import { describe } from "./errors.js";
import * as secondFactors from "./second_factors.js";
import { reachChoice, watchDelivery } from "./reach.js";
import {
  ApiFault,
  end,
  logout,
  onChange,
  restore,
  run,
  runAuthenticated,
  setUser,
  status,
} from "./session.js";
import { showSessions } from "./sessions.js";

const $ = (selector) => document.querySelector(selector);
// The challenges bind each code to the request that caused it: a signup's code completes
// only that signup (signupChallenge), a reset's only that reset (resetChallenge).
const flow = { challenge: null, signupChallenge: null, resetPhone: null, resetChallenge: null };

// --- page plumbing ------------------------------------------------------------------------

function show(view) {
  for (const section of document.querySelectorAll("[data-view]")) {
    section.hidden = section.id !== `view-${view}`;
  }
  document.body.dataset.current = view;
}

function notice(text) {
  const box = $("#notice");
  box.textContent = text ?? "";
  box.hidden = !text;
}

/** Shows an error member in words; RateLimited also holds the button that asked. */
function showError(where, error, asked = where.querySelector("[type=submit]")) {
  const box = where.matches(".error") ? where : where.querySelector(".error");
  box.textContent = describe(error);
  box.dataset.type = error.__typename;
  box.hidden = false;
  if (error.__typename === "RateLimited") hold(asked, error.retryAfterSeconds);
}

function clearError(where) {
  const box = where.matches(".error") ? where : where.querySelector(".error");
  box.hidden = true;
  box.textContent = "";
  delete box.dataset.type;
}

/** Keeps a button disabled for the wait a RateLimited answer gave. */
function hold(button, seconds) {
  if (!button) return;
  button.dataset.holding = "1";
  button.disabled = true;
  setTimeout(() => {
    delete button.dataset.holding;
    button.disabled = false;
  }, seconds * 1000);
}

function fields(form) {
  const raw = Object.fromEntries(new FormData(form));
  for (const key of ["phone", "identifier", "code", "username"]) {
    if (typeof raw[key] === "string") raw[key] = raw[key].trim();
  }
  return raw;
}

/** Submits a form to `action`; faults (network, server) are shown in the form too. */
function onSubmit(form, action) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(form, form.querySelector("[type=submit]"), () => action(fields(form), form));
  });
}

function onClick(button, where, action) {
  button.addEventListener("click", () => guarded(where, button, action));
}

async function guarded(where, button, action) {
  clearError(where);
  notice(null);
  button.disabled = true;
  try {
    await action();
  } catch (fault) {
    const message = fault instanceof ApiFault ? fault.message : String(fault);
    showError(where, { __typename: "Fault", message });
  } finally {
    if (!button.dataset.holding) button.disabled = false;
  }
}

function until(expiresAt) {
  return new Date(expiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// --- signup and verification --------------------------------------------------------------

onSubmit($("#signup-form"), async ({ phone, password, username }, form) => {
  const reach = reachChoice(form);
  const input = { phone, password, username: username || null, ...reach };
  const answer = await run("Signup", { input });
  if (answer.__typename !== "VerificationSent") return showError(form, answer);
  form.reset();
  flow.signupChallenge = answer.challenge;
  askForSignupCode(answer.phone, answer.expiresAt);
  watchDelivery(answer.challenge, answer.phone, reach.channel);
});

$("#signup-form [name=username]").addEventListener("change", async (event) => {
  const hint = $("#username-hint");
  const username = event.target.value.trim();
  if (!username) return void (hint.textContent = "");
  try {
    const free = await run("UsernameAvailable", { username });
    hint.textContent = free ? "This username is available." : "This username is not available.";
  } catch {
    hint.textContent = "";
  }
});

function askForSignupCode(phone, expiresAt) {
  const form = $("#verify-form");
  form.phone.value = phone;
  form.code.value = "";
  $("#verify-hint").textContent = expiresAt
    ? `We sent a code by SMS to ${phone}. It works until ${until(expiresAt)}.`
    : flow.signupChallenge
      ? "Enter the code from the SMS we sent when you signed up, or ask for a new one."
      : "This signup was started elsewhere: sign up again here to get a code.";
  show("verify");
  form.code.focus();
}

onSubmit($("#verify-form"), async ({ phone, code }, form) => {
  const challenge = flow.signupChallenge ?? "";
  const answer = await run("VerifyPhone", { input: { phone, code, challenge } });
  if (answer.__typename !== "Session") return showError(form, answer);
  form.reset();
  await enterAccount("Your phone number is verified. Welcome!");
});

onClick($("#resend-button"), $("#verify-form"), async () => {
  const form = $("#verify-form");
  const answer = await run("ResendVerification", {
    phone: form.phone.value.trim(),
    challenge: flow.signupChallenge ?? "",
  });
  if (answer.__typename !== "VerificationSent") return showError(form, answer, $("#resend-button"));
  askForSignupCode(answer.phone, answer.expiresAt);
  notice(`We sent a new code to ${answer.phone}. Only the newest code works.`);
  flow.signupChallenge = answer.challenge;
  watchDelivery(answer.challenge, answer.phone);
});

// --- login, with the second factor --------------------------------------------------------

onSubmit($("#login-form"), async ({ identifier, password }, form) => {
  const answer = await run("Login", { input: { identifier, password } });
  switch (answer.__typename) {
    case "Session":
      form.reset();
      return enterAccount();
    case "SecondFactorRequired":
      form.reset();
      flow.challenge = answer.challenge;
      secondFactors.ask(answer); // SMS, the authenticator app or a recovery code
      show("second-factor");
      return $("#second-factor-form").code.focus();
    case "PhoneNotVerified":
      askForSignupCode(identifier.startsWith("+") ? identifier : "", null);
      return showError($("#verify-form"), answer);
    default:
      return showError(form, answer);
  }
});

onSubmit($("#second-factor-form"), async ({ code }, form) => {
  const input = { challenge: flow.challenge, code, method: secondFactors.method() };
  const answer = await run("VerifyLogin", { input });
  if (answer.__typename !== "Session") return showError(form, secondFactors.explained(answer));
  flow.challenge = null;
  form.reset();
  await enterAccount();
});

// --- forgotten password -------------------------------------------------------------------

$("#forgot-button").addEventListener("click", () => {
  $("#reset-request-form").hidden = false;
  $("#reset-form").hidden = true;
  notice(null);
  show("reset");
});

onSubmit($("#reset-request-form"), async ({ phone }, form) => {
  const answer = await run("RequestReset", { phone });
  if (answer.__typename !== "ResetCodeSent") return showError(form, answer);
  flow.resetPhone = answer.phone;
  flow.resetChallenge = answer.challenge;
  form.hidden = true;
  $("#reset-form").hidden = false;
  $("#reset-hint").textContent =
    `If ${answer.phone} has an account, we sent it a code. ` +
    `It works until ${until(answer.expiresAt)}.`;
  $("#reset-form").code.focus();
});

onSubmit($("#reset-form"), async ({ code, newPassword, secondFactorCode }, form) => {
  const { resetPhone: phone, resetChallenge: challenge } = flow;
  const second = secondFactorCode.trim() || null; // asked for when the account has TOTP on
  const input = { phone, challenge, code, newPassword, secondFactorCode: second };
  const answer = await run("ResetPassword", { input });
  if (answer.__typename !== "PasswordReset") return showError(form, secondFactors.askReset(answer));
  form.reset();
  end(); // every session ended on the server
  $("#login-form").identifier.value = flow.resetPhone;
  show("start");
  notice(answer.message);
});

// --- the account --------------------------------------------------------------------------

async function enterAccount(message = null) {
  show("account");
  if (message) notice(message);
  await loadMe();
}

async function loadMe() {
  const me = await runAuthenticated("Me");
  if (me === null) return end("Your session has ended. Please log in again.");
  setUser(me);
  await showSessions();
}

function render(user) {
  const words = {
    phone: user.phone,
    username: user.username ?? "(none)",
    isVerified: user.isVerified ? "yes" : "no",
    twoFactorEnabled: user.twoFactorEnabled ? "on" : "off",
    pendingPhone: user.pendingPhone ?? "(none)",
    createdAt: new Date(user.createdAt).toLocaleString(),
  };
  for (const cell of document.querySelectorAll("[data-me]")) {
    cell.textContent = words[cell.dataset.me];
  }
  $("#two-factor-hint").textContent = user.twoFactorEnabled
    ? "On: logging in also needs a code sent by SMS."
    : "Off: logging in needs only your password.";
  $("#two-factor-button").textContent = user.twoFactorEnabled ? "Turn off" : "Turn on";
}

function renderSession(now) {
  const line = $("#session-status");
  line.dataset.refreshes = String(now.refreshes);
  line.textContent = now.loggedIn
    ? `Your session renews itself before it expires ` +
      `(renewed ${now.refreshes} time${now.refreshes === 1 ? "" : "s"} so far).`
    : "";
}

onChange((now, reason) => {
  if (now.user) render(now.user);
  renderSession(now);
  if (!now.loggedIn && document.body.dataset.current === "account") {
    show("start");
    if (reason) notice(reason);
  }
});

onClick($("#reload-me"), $("#account-error"), loadMe);

onClick($("#logout-button"), $("#account-error"), () => leave(false));
onClick($("#logout-everywhere-button"), $("#account-error"), () => leave(true));

async function leave(everywhere) {
  const answer = await logout(everywhere);
  if (answer.__typename !== "LoggedOut") end(); // nothing left to end on the server
  show("start");
  notice(answer.__typename === "LoggedOut" ? answer.message : "You are logged out.");
}

onSubmit($("#two-factor-form"), async ({ currentPassword }, form) => {
  const enabled = !status().user.twoFactorEnabled;
  const answer = await runAuthenticated("SetTwoFactor", { input: { currentPassword, enabled } });
  if (answer.__typename !== "TwoFactorUpdated") return showError(form, answer);
  form.reset();
  setUser(answer.user);
  notice(enabled ? "Two-factor login is on." : "Two-factor login is off.");
});

onSubmit($("#password-form"), async ({ currentPassword, newPassword }, form) => {
  const input = { currentPassword, newPassword };
  const answer = await runAuthenticated("ChangePassword", { input });
  if (answer.__typename !== "PasswordChanged") return showError(form, answer);
  form.reset();
  notice("Your password is changed. Your other devices were logged out.");
});

onSubmit($("#identity-form"), async ({ currentPassword, phone, username }, form) => {
  const input = { currentPassword, phone: phone || null, username: username || null };
  const answer = await runAuthenticated("ChangeIdentity", { input });
  if (answer.__typename !== "IdentityChangePending") return showError(form, answer);
  form.reset();
  const confirm = $("#identity-confirm-form");
  $("#identity-confirm-hint").textContent =
    `We sent a code to ${answer.sentTo}. It works until ${until(answer.expiresAt)}.`;
  confirm.hidden = false;
  confirm.code.focus();
});

onSubmit($("#identity-confirm-form"), async ({ code }, form) => {
  const answer = await runAuthenticated("ConfirmIdentityChange", { code });
  if (answer.__typename !== "IdentityChanged") return showError(form, answer);
  form.reset();
  form.hidden = true;
  setUser(answer.user);
  notice("Done: your account now uses the new details. Other devices were logged out.");
});

onSubmit($("#delete-form"), async ({ currentPassword }, form) => {
  const answer = await runAuthenticated("DeleteAccount", { input: { currentPassword } });
  if (answer.__typename !== "AccountDeleted") return showError(form, answer);
  form.reset();
  end();
  show("start");
  notice(answer.message);
});

for (const back of document.querySelectorAll("[data-go]")) {
  back.addEventListener("click", () => {
    notice(null);
    show(back.dataset.go);
  });
}

secondFactors.install({ showError, notice, onSubmit, onClick, until });

// In cookie mode the refresh cookie restores the login on load (see session.js); without
// it, every visit starts logged out.
show("start");
restore()
  .then((back) => (back ? enterAccount() : null))
  .catch(() => null)
  .finally(() => {
    document.body.dataset.ready = "1";
  });
