// Second factors beyond SMS on the reference page: setting up an authenticator app (TOTP)
// from a QR code, the recovery codes (shown once), turning the app off, new recovery codes,
// the method chooser of a login's second step, the second factor a password reset asks
// for, and the "Recent activity" card (me.securityEvents). app.js calls install() with its
// page helpers, ask() and method() in the login's second step, and askReset() in a reset.
//
// The TOTP secret, its otpauth:// URI and the recovery codes are secrets as strong as the
// password: they live in this module's variables and in the page while shown, and nowhere
// else: never in localStorage, sessionStorage, a cookie or the URL (the forms never
// navigate; the page's CSP has form-action 'none'). They leave the page when the person is
// done, cancels, or the session ends.
//
// The QR code is drawn on a canvas by qrcode-generator (pinned in package.json and
// package-lock.json, fetched by `npm ci --prefix clients/spa`, served by this server, never
// a CDN), loaded on first use as a script pinned by its sha384: the browser runs no other
// file. Without it the page says so and shows the key to type in.

import { onChange, runAuthenticated, status } from "./session.js";

export const FETCH_COMMAND = "npm ci --prefix clients/spa";
export const QR_SCRIPT = {
  src: "node_modules/qrcode-generator/dist/qrcode.js",
  integrity: "sha384-e9EFD6BGC90bkW9aDV5xbbBfzwN7G8YImHao2lfLVKV/hPB0E0go+H3I64h7oHtA",
};
const QR_CELL = 5; // pixels per module
const QR_QUIET = 4; // modules of white around the code (the quiet zone scanners need)
const HISTORY = 20; // events on the card

const EVENT_WORDS = {
  signup: "Account created",
  login: "Logged in",
  login_failed: "Wrong password at login",
  password_changed: "Password changed",
  password_reset: "Password reset",
  identity_changed: "Phone or username changed",
  two_factor_changed: "SMS two-factor login turned on or off",
  totp_enabled: "Authenticator app turned on",
  totp_disabled: "Authenticator app turned off",
  recovery_code_used: "Recovery code used",
  recovery_codes_regenerated: "New recovery codes made",
  session_revoked: "Logged out",
};

const METHOD_HINTS = {
  TOTP: "Open your authenticator app and enter the code it shows for phonegate.",
  RECOVERY_CODE:
    "Enter one of the recovery codes you saved (like abcd-efgh-ijkl-mnop). Each works once.",
};

const $ = (selector) => document.querySelector(selector);
let page = null; // app.js's helpers (install)
let loadedFor = null; // the account whose state the cards show
let shownCodes = []; // the recovery codes on screen, for the Copy button only
let smsHint = "";
let qrLibrary = null;

/** Wires the account's cards; `helpers` are app.js's showError, notice, onSubmit, until. */
export function install(helpers) {
  page = helpers;
  helpers.onSubmit($("#totp-setup-form"), setUp);
  helpers.onSubmit($("#totp-confirm-form"), confirm);
  helpers.onSubmit($("#totp-disable-form"), disable);
  helpers.onSubmit($("#recovery-form"), regenerate);
  helpers.onClick($("#activity-reload"), $("#activity"), load);
  $("#reload-me").addEventListener("click", () => load().catch(() => {}));
  $("#totp-cancel").addEventListener("click", forgetSetup);
  $("#recovery-codes-done").addEventListener("click", forgetCodes);
  $("#copy-recovery-codes").addEventListener("click", copyCodes);
  $("#forgot-button").addEventListener("click", () => askReset(null));
  for (const radio of document.querySelectorAll("#second-factor-methods [name=method]")) {
    radio.addEventListener("change", () => chosen(radio.value));
  }
  onChange((now) => {
    if (!now.loggedIn) return forgetAll();
    if (now.user && now.user.id !== loadedFor) {
      loadedFor = now.user.id;
      load().catch(() => {});
    }
  });
}

// --- the login's second step ----------------------------------------------------------------

/** Shows the methods a SecondFactorRequired answer lists; the app's code first. */
export function ask(answer) {
  const methods = answer.methods ?? ["SMS"];
  smsHint = answer.sentTo
    ? `we sent a code to ${answer.sentTo}. It works until ${page.until(answer.expiresAt)}.`
    : "enter the code from the SMS, if your account uses SMS."; // no phone to name
  const chooser = $("#second-factor-methods");
  for (const radio of chooser.querySelectorAll("[name=method]")) {
    radio.closest("label").hidden = !methods.includes(radio.value);
    radio.checked = false;
  }
  chooser.hidden = methods.length < 2;
  const first = methods.includes("TOTP") ? "TOTP" : methods[0];
  chooser.querySelector(`[value=${first}]`).checked = true;
  chosen(first);
}

/** The method the person chose for the second step (SMS when only SMS was offered). */
export function method() {
  return $("#second-factor-methods [name=method]:checked")?.value ?? "SMS";
}

function chosen(which) {
  const code = $("#second-factor-form [name=code]");
  code.inputMode = which === "RECOVERY_CODE" ? "text" : "numeric";
  code.autocomplete = which === "RECOVERY_CODE" ? "off" : "one-time-code";
  $("#second-factor-hint").textContent =
    which === "SMS" ? `Two-factor login is on: ${smsHint}` : METHOD_HINTS[which];
}

/** An error answer of verifyLogin, told in the words of the factor it was typed from. */
export function explained(answer) {
  return { ...answer, factor: method() };
}

// --- a password reset of an account with the authenticator app on --------------------------

/**
 * Shows the second-factor field when the reset's answer asks for it (InvalidInput on
 * secondFactorCode: the SMS code was right and stays usable); hides it for a new reset
 * (`answer` null). Answers the error to show, in words.
 */
export function askReset(answer) {
  const field = $("#reset-second-factor");
  if (answer === null) {
    field.hidden = true;
    field.querySelector("input").value = "";
    return null;
  }
  if (answer.__typename === "InvalidInput" && answer.field === "secondFactorCode") {
    field.hidden = false;
    field.querySelector("input").focus();
  }
  return field.hidden ? answer : { ...answer, factor: "RESET" };
}

// --- the account's cards --------------------------------------------------------------------

async function load() {
  const me = await runAuthenticated("SecurityActivity", { first: HISTORY });
  if (me === null || !status().loggedIn) return; // the session ended: session.js says so
  loadedFor = me.id;
  render(me);
}

function render(me) {
  const left = me.recoveryCodesLeft;
  const line = $("#totp-status");
  line.dataset.totp = me.totpEnabled ? "on" : "off";
  line.textContent = me.totpEnabled
    ? "On: logging in and resetting your password need a code from your authenticator app " +
      "(or a recovery code)."
    : "Off: a code by SMS is your only second factor.";
  $("#totp-setup-form").hidden = me.totpEnabled || !$("#totp-confirm-form").hidden;
  $("#totp-disable-form").hidden = !me.totpEnabled;
  $("#recovery-form").hidden = !me.totpEnabled;
  const counter = $("#recovery-left");
  counter.dataset.left = String(left);
  counter.textContent =
    `${left} of your recovery codes ${left === 1 ? "is" : "are"} left. ` +
    "New ones end every earlier one.";

  const rows = me.securityEvents.map((event) => {
    const row = document.createElement("tr");
    row.dataset.kind = event.kind;
    const when = document.createElement("time");
    when.dateTime = event.at;
    when.textContent = new Date(event.at).toLocaleString();
    const agent = cell(event.userAgent ?? "unknown");
    agent.className = "agent";
    row.append(
      cell(EVENT_WORDS[event.kind] ?? event.kind),
      cell(when),
      cell(event.ipAddress ?? "unknown"),
      agent,
    );
    return row;
  });
  $("#activity-table tbody").replaceChildren(...rows);
}

function cell(content) {
  const td = document.createElement("td");
  td.append(content);
  return td;
}

async function setUp({ currentPassword }, form) {
  const answer = await runAuthenticated("SetupTotp", { currentPassword });
  if (answer.__typename !== "TotpSetup") return page.showError(form, answer);
  form.reset();
  form.hidden = true;
  const confirmForm = $("#totp-confirm-form");
  $("#totp-secret").textContent = answer.secret.match(/.{1,4}/g).join(" ");
  confirmForm.hidden = false;
  await drawQr(answer.otpauthUri);
  confirmForm.code.focus();
}

async function confirm({ code }, form) {
  const answer = await runAuthenticated("ConfirmTotp", { code });
  if (answer.__typename !== "RecoveryCodes") {
    return page.showError(form, { ...answer, factor: "TOTP" });
  }
  forgetSetup();
  showCodes(answer.codes);
  page.notice("Your authenticator app is on. Save your recovery codes now.");
  await load();
}

async function disable({ currentPassword }, form) {
  const answer = await runAuthenticated("DisableTotp", { currentPassword });
  if (answer.__typename !== "TwoFactorUpdated") return page.showError(form, answer);
  form.reset();
  forgetCodes();
  page.notice("Your authenticator app is off; your recovery codes no longer work.");
  await load();
}

async function regenerate({ currentPassword }, form) {
  const answer = await runAuthenticated("RegenerateRecoveryCodes", { currentPassword });
  if (answer.__typename !== "RecoveryCodes") return page.showError(form, answer);
  form.reset();
  showCodes(answer.codes);
  page.notice("Ten new recovery codes: the earlier ones no longer work.");
  await load();
}

// --- the QR code ----------------------------------------------------------------------------

function loadQrLibrary() {
  qrLibrary ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = QR_SCRIPT.src;
    script.integrity = QR_SCRIPT.integrity;
    script.onload = () => (typeof window.qrcode === "function" ? resolve(window.qrcode) : reject());
    script.onerror = () => {
      qrLibrary = null; // fetched later, it works without a reload of the page
      script.remove();
      reject();
    };
    document.head.append(script);
  });
  return qrLibrary;
}

async function drawQr(uri) {
  const canvas = $("#totp-qr");
  const missing = $("#totp-qr-missing");
  let qrcode;
  try {
    qrcode = await loadQrLibrary();
  } catch {
    canvas.hidden = true;
    missing.textContent =
      `This server cannot draw the QR code (its library is not fetched: ${FETCH_COMMAND}). ` +
      "Type the key below into your app instead.";
    missing.hidden = false;
    return;
  }
  const qr = qrcode(0, "M"); // the smallest version that holds the URI
  qr.addData(uri);
  qr.make();
  const size = (qr.getModuleCount() + 2 * QR_QUIET) * QR_CELL;
  canvas.width = canvas.height = size;
  const context = canvas.getContext("2d");
  context.fillStyle = "white";
  context.fillRect(0, 0, size, size);
  context.translate(QR_QUIET * QR_CELL, QR_QUIET * QR_CELL);
  qr.renderTo2dContext(context, QR_CELL);
  canvas.hidden = false;
  missing.hidden = true;
}

function forgetSetup() {
  const canvas = $("#totp-qr");
  canvas.width = canvas.height = 0; // clears the drawing
  $("#totp-secret").textContent = "";
  const form = $("#totp-confirm-form");
  form.reset();
  form.hidden = true;
  $("#totp-setup-form").hidden = $("#totp-status").dataset.totp === "on";
}

// --- the recovery codes, once ---------------------------------------------------------------

function showCodes(codes) {
  shownCodes = [...codes];
  const items = codes.map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  });
  $("#recovery-codes-list").replaceChildren(...items);
  $("#copy-status").textContent = "";
  $("#recovery-codes").hidden = false;
}

async function copyCodes() {
  const said = $("#copy-status");
  try {
    await navigator.clipboard.writeText(shownCodes.join("\n") + "\n");
    said.textContent = "Copied: paste them into your password manager, or print them.";
  } catch {
    said.textContent = "This browser did not let the page copy: select the codes and copy them.";
  }
}

function forgetCodes() {
  shownCodes = [];
  $("#recovery-codes-list").replaceChildren();
  $("#copy-status").textContent = "";
  $("#recovery-codes").hidden = true;
}

function forgetAll() {
  loadedFor = null;
  forgetSetup();
  forgetCodes();
  $("#activity-table tbody").replaceChildren();
}
