// The "Your sessions" card: the account's logged-in devices (me { sessions }), which one is
// this one, when each was last used, and a button to end any other (revokeSession) or all
// others at once (revokeOtherSessions). Ending a session logs that device out on its next
// call; no SMS is sent. Built into <div id="sessions-card"> of the account view.

import { describe } from "./errors.js";
import { ApiFault, runAuthenticated } from "./session.js";

const card = () => document.querySelector("#sessions-card");

/** "Firefox on Linux" from a User-Agent header: enough to recognise one's own devices. */
export function device(userAgent) {
  if (!userAgent) return "Unknown device";
  const browsers = [
    [/Edg\//, "Edge"],
    [/OPR\/|Opera/, "Opera"],
    [/Firefox\//, "Firefox"],
    [/Chrome\/|Chromium\//, "Chrome"],
    [/Safari\//, "Safari"],
  ];
  const systems = [
    [/Android/, "Android"],
    [/iPhone|iPad|iPod/, "iOS"],
    [/Windows/, "Windows"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/CrOS/, "ChromeOS"],
    [/Linux/, "Linux"],
  ];
  const browser = browsers.find(([pattern]) => pattern.test(userAgent))?.[1];
  const system = systems.find(([pattern]) => pattern.test(userAgent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? userAgent.slice(0, 40);
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function message(text, type = null) {
  const box = card().querySelector(".error");
  if (!box) return;
  box.textContent = text ?? "";
  box.hidden = !text;
  if (type) box.dataset.type = type;
  else delete box.dataset.type;
}

/** Loads the list and draws the card (again). */
export async function showSessions() {
  const root = card();
  if (!root) return;
  let me;
  try {
    me = await runAuthenticated("Sessions");
  } catch (fault) {
    return message(fault instanceof ApiFault ? fault.message : String(fault), "Fault");
  }
  if (me === null) return; // logged out meanwhile: the page goes back to the start
  draw(me.sessions);
}

function draw(sessions) {
  const root = card();
  root.replaceChildren(
    element("h3", {}, "Your sessions"),
    element("p", { class: "hint" }, "Every device logged in to your account. End any you do not recognise."),
  );
  const list = element("ul", { class: "sessions" });
  for (const session of sessions) list.append(row(session));
  const others = element("button", { type: "button", class: "secondary", id: "end-other-sessions" }, "End all other sessions");
  others.disabled = sessions.every((s) => s.current);
  others.addEventListener("click", () => act(others, "RevokeOtherSessions", {}));
  const error = element("p", { class: "error", role: "alert" });
  error.hidden = true;
  root.append(list, others, error);
}

function row(session) {
  const item = element("li", { "data-session": session.id });
  if (session.current) item.dataset.current = "1";
  item.append(element("strong", {}, device(session.userAgent)));
  const lastUsed = new Date(session.lastUsedAt).toLocaleString();
  const where = session.ipAddress ? ` from ${session.ipAddress}` : "";
  item.append(element("span", { class: "hint" }, ` last used ${lastUsed}${where} `));
  if (session.current) {
    item.append(element("span", { class: "this-one" }, "(this one)"));
  } else {
    const end = element("button", { type: "button", class: "secondary" }, "End");
    end.addEventListener("click", () => act(end, "RevokeSession", { id: session.id }));
    item.append(end);
  }
  return item;
}

async function act(button, operation, variables) {
  button.disabled = true;
  message(null);
  try {
    const answer = await runAuthenticated(operation, variables);
    if (answer.__typename !== "LoggedOut") return message(describe(answer), answer.__typename);
    await showSessions();
  } catch (fault) {
    message(fault instanceof ApiFault ? fault.message : String(fault), "Fault");
  } finally {
    button.disabled = false;
  }
}
