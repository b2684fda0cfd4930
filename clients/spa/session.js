// The API transport and the logged-in session: the only module that sees the tokens.
//
// Where the tokens live, and why there: in the module-private variables below, closed over
// by this module's functions and never exported, never put on `window`, never written to
// localStorage, sessionStorage, IndexedDB or a cookie. Web storage is readable by every
// script that runs on this origin and outlives the tab; a module's own `let` bindings are
// reachable only through the functions this module chooses to export, and none of them
// returns a token. Together with the page's Content-Security-Policy (scripts from this
// origin only, no inline script), a script injected into the page has no variable to read
// the refresh token from. That is as far as a page can go: injected code could still call
// the exported functions while the page is open, or replace `fetch` before this module
// runs, which the CSP is there to prevent. The cost is that a reload logs the person out.

import * as operations from "./operations.js";

const API_URL = document.documentElement.dataset.api || "/graphql";
const RETRY_REFRESH_MS = 5_000;

let accessToken = null;
let refreshToken = null;
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
  if (refreshToken && accessExpiresAt - Date.now() < 2_000) await refresh();
  let answer = await post(name, variables, accessToken);
  if (answer.value?.__typename === "NotAuthenticated" && refreshToken && (await refresh())) {
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
  const answer = (await post("Logout", { refreshToken, everywhere }, accessToken)).value;
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

/** Trades the refresh token for a new session before the access token expires. */
export function refresh() {
  if (!refreshToken) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = rotate(generation).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function rotate(startedIn) {
  try {
    const { value, serverNow } = await post("RefreshSession", { refreshToken }, null);
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
  if (document.visibilityState === "visible" && refreshToken) {
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
      credentials: "omit",
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
