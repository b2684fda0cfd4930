// The API transport and the logged-in session: the only module that sees the tokens.
//
// Where the tokens live, and why there. With the server in cookie mode (REFRESH_COOKIE=on,
// which this page is made for), the refresh token never reaches this page at all: the
// server keeps it in an HttpOnly, SameSite=Strict cookie that no script can read, and the
// answers carry `refreshToken: null`. The page holds only the short-lived access token, in
// the module-private variables below; on load it calls refreshSession without an argument
// and the browser sends the cookie, so a reload keeps the person logged in (restore()).
// Against a server without cookie mode, the refresh token is kept here too, and a reload
// logs the person out.
//
// Either way the variables are closed over by this module's functions and never exported,
// never put on `window`, never written to localStorage, sessionStorage or IndexedDB. Web
// storage is readable by every script that runs on this origin and outlives the tab; a
// module's own `let` bindings are reachable only through the functions this module chooses
// to export, and none of them returns a token. Together with the page's
// Content-Security-Policy (scripts from this origin only, no inline script), a script
// injected into the page has no variable to read a token from. That is as far as a page can
// go: injected code could still call the exported functions while the page is open, or
// replace `fetch` before this module runs, which the CSP is there to prevent.
//
// Two tabs share the cookie: when both refresh at once, the server's refresh grace answers
// both with the same successor, so both stay logged in. A logout in one tab ends the
// session; the other notices on its next call (NotAuthenticated, then a refresh that fails).

import * as operations from "./operations.js";

const API_URL = document.documentElement.dataset.api || "/graphql";
const RETRY_REFRESH_MS = 5_000;

let accessToken = null;
let refreshToken = null; // null in cookie mode: the cookie holds it
let cookieMode = false; // the server answered a Session without a refresh token
let accessExpiresAt = 0; // in this browser's clock (ms), corrected for the server's clock
let user = null;
let refreshTimer = null;
let refreshing = null; // the refresh in flight: one at a time (a refresh token works once)
let generation = 0; // bumped whenever a session is adopted or ended
let refreshes = 0;
const listeners = new Set();

/** A fault outside the result unions: network down, GraphQL `errors`, bad HTTP status. */
export class ApiFault extends Error {}

/**
 * Runs one operation of clients/operations; answers its root field's value. A Session in
 * the answer (verifyPhone, login, verifyLogin, changePassword) becomes the session here,
 * and the caller gets it without its tokens.
 */
export async function run(name, variables = {}) {
  return take(await post(name, variables, null));
}

/**
 * Runs an operation as the logged-in person: waits for a refresh under way, refreshes first
 * when the access token is about to expire, and once more on NotAuthenticated.
 */
export async function runAuthenticated(name, variables = {}) {
  if (refreshing) await refreshing;
  if (canRefresh() && accessExpiresAt - Date.now() < 2_000) await refresh();
  let answer = await post(name, variables, accessToken);
  const refused = answer.value === null || answer.value?.__typename === "NotAuthenticated";
  if (refused && canRefresh() && (await refresh())) {
    answer = await post(name, variables, accessToken);
  }
  return take(answer);
}

function take({ value, serverNow }) {
  if (value?.__typename === "Session") {
    adopt(value, serverNow);
    return withoutTokens(value);
  }
  if (value?.__typename === "PasswordChanged") {
    adopt(value.session, serverNow);
    return { ...value, session: withoutTokens(value.session) };
  }
  return value;
}

function withoutTokens({ accessToken: _a, refreshToken: _r, ...rest }) {
  return rest;
}

function adopt(session, serverNow) {
  generation += 1;
  accessToken = session.accessToken;
  refreshToken = session.refreshToken;
  cookieMode = session.refreshToken === null;
  user = session.user;
  const lifetime = Date.parse(session.expiresAt) - (serverNow ?? Date.now());
  accessExpiresAt = Date.now() + lifetime;
  schedule(lifetime);
  notify();
}

/** Forgets the session (after logout, a reset, a deletion, or when it ended). */
export function end(reason = null) {
  generation += 1;
  accessToken = refreshToken = user = null;
  accessExpiresAt = 0;
  clearTimeout(refreshTimer);
  notify(reason);
}

/** Logs out this session (or every session) and forgets it. */
export async function logout(everywhere = false) {
  if (refreshing) await refreshing;
  const variables = cookieMode ? { everywhere } : { refreshToken, everywhere };
  const answer = (await post("Logout", variables, accessToken)).value;
  if (answer.__typename === "LoggedOut") end();
  return answer;
}

/** What the page may know about the session: never the tokens themselves. */
export function status() {
  return {
    loggedIn: accessToken !== null,
    user,
    refreshes,
    expiresInSeconds: accessToken ? Math.round((accessExpiresAt - Date.now()) / 1000) : 0,
  };
}

export function setUser(fresh) {
  user = fresh;
  notify();
}

export function onChange(listener) {
  listeners.add(listener);
}

function canRefresh() {
  return accessToken !== null && (cookieMode || refreshToken !== null);
}

/**
 * On load: the login this browser's refresh cookie stands for, if any (cookie mode). Answers
 * whether the person is logged in again.
 */
export async function restore() {
  try {
    const { value, serverNow } = await post("RefreshSession", {}, null);
    if (value?.__typename !== "Session" || accessToken !== null) return accessToken !== null;
    adopt(value, serverNow);
    return true;
  } catch {
    return false;
  }
}

/** Trades the refresh token for a new session before the access token expires. */
export function refresh() {
  if (!canRefresh()) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = rotate(generation).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function rotate(startedIn) {
  try {
    const variables = cookieMode ? {} : { refreshToken };
    const { value, serverNow } = await post("RefreshSession", variables, null);
    if (startedIn !== generation) return accessToken !== null; // a newer session won
    if (value.__typename === "Session") {
      refreshes += 1;
      adopt(value, serverNow);
      return true;
    }
    end("Your session has ended. Please log in again.");
    return false;
  } catch (fault) {
    // Network trouble: try again soon, while the access token may still be good.
    if (startedIn === generation) refreshTimer = setTimeout(refresh, RETRY_REFRESH_MS);
    return false;
  }
}

function schedule(lifetime) {
  clearTimeout(refreshTimer);
  // A little before expiry: a fifth of the lifetime early, at most a minute early.
  const early = Math.min(60_000, lifetime * 0.2);
  refreshTimer = setTimeout(refresh, Math.max(0, lifetime - early));
}

// Timers stall in background tabs: on coming back, refresh at once if it is due.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && canRefresh()) {
    const left = accessExpiresAt - Date.now();
    if (left < 60_000) refresh();
  }
});

async function post(name, variables, token) {
  // A trusted document: its id, never its text (the server may run TRUSTED_DOCUMENTS=only).
  const documentId = operations.DOCUMENT_IDS[name];
  if (!documentId) throw new ApiFault(`unknown operation ${name}`);
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API_URL, {
      method: "POST",
      headers,
      body: JSON.stringify({ documentId, variables, operationName: name }),
      // The refresh cookie goes with requests to this page's own origin only (cookie mode);
      // an API on another origin of the same site needs "include" and CORS_ORIGINS.
      credentials: API_URL.startsWith("/") ? "same-origin" : "include",
      cache: "no-store",
    });
  } catch {
    throw new ApiFault("The server cannot be reached. Check your connection and try again.");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || body.errors || !body.data) {
    const detail = body?.errors?.map((e) => e.message).join("; ") || `HTTP ${response.status}`;
    throw new ApiFault(`The server could not do that (${detail}).`);
  }
  const [value] = Object.values(body.data);
  return { value, serverNow: serverTime(response) };
}

/** The server's clock from the Date header (when readable), to size token lifetimes. */
function serverTime(response) {
  const date = Date.parse(response.headers.get("Date") ?? "");
  return Number.isNaN(date) ? null : date;
}

function notify(reason = null) {
  for (const listener of listeners) listener(status(), reason);
}
