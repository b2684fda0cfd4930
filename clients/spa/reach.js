// Reach (issue 16): the channel and language a person picks at signup, what happened to the
// code the page is waiting for (the deliveryStatus query), and "Call me instead" once
// CALL_AFTER_SECONDS pass without delivery (a resend of the same signup by VOICE; the code's
// count of wrong guesses carries over). Kept apart from app.js, which calls reachChoice and
// watchDelivery only.
//
// The status never tells whether a phone is registered (see the README, "Channels,
// languages and delivery status"), so the page shows it as it comes.

import { run } from "./session.js";

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
// Seconds without delivery before "Call me instead" is offered; ?callAfter=N shortens it
// (the browser test uses 2).
export const CALL_AFTER_SECONDS = Number(params.get("callAfter") ?? 30);
const POLL_SECONDS = 1.5;
const WORDS = {
  QUEUED: "Your code is on its way.",
  SENT: "Your code was sent.",
  DELIVERED: "Your code was delivered.",
  FAILED: "Your code did not arrive.",
};
const BY = { SMS: "by SMS", VOICE: "by a phone call", WHATSAPP: "on WhatsApp" };

let watching = null; // { challenge, phone, channel, started, timer }

/** The signup form's channel and language, as SignupInput fields. */
export function reachChoice(form) {
  return { channel: form.channel?.value || "SMS", locale: form.locale?.value || null };
}

/** Shows the delivery of `challenge`'s code while the verify view is open. */
export function watchDelivery(challenge, phone, channel = "SMS") {
  stopWatching();
  watching = { challenge, phone, channel, started: Date.now(), timer: null };
  $("#call-me").hidden = true;
  show({ status: "QUEUED", channel, reason: null });
  tick();
}

function stopWatching() {
  if (watching?.timer) clearTimeout(watching.timer);
  watching = null;
}

async function tick() {
  const current = watching;
  if (!current) return;
  if ($("#view-verify").hidden) return stopWatching(); // verified, or gone elsewhere
  try {
    const answer = await run("DeliveryStatus", { challenge: current.challenge });
    if (watching !== current) return;
    if (answer.__typename === "DeliveryStatus") show(answer);
    const waited = (Date.now() - current.started) / 1000;
    const delivered = answer.status === "DELIVERED";
    $("#call-me").hidden = delivered || current.channel === "VOICE" || waited < CALL_AFTER_SECONDS;
  } catch {
    // a fault: try again at the next tick
  }
  if (watching === current) current.timer = setTimeout(tick, POLL_SECONDS * 1000);
}

function show({ status, channel, reason }) {
  const line = $("#delivery-status");
  line.dataset.status = status.toLowerCase();
  line.textContent = `${WORDS[status]} (${BY[channel] ?? channel})${reason ? ` ${reason}` : ""}`;
}

$("#call-me").addEventListener("click", async () => {
  const current = watching;
  if (!current) return;
  const button = $("#call-me");
  button.disabled = true;
  try {
    const answer = await run("ResendVerification", {
      phone: current.phone,
      challenge: current.challenge,
      channel: "VOICE",
    });
    if (answer.__typename === "VerificationSent") {
      watchDelivery(answer.challenge, current.phone, "VOICE");
      $("#delivery-status").textContent = "We are calling you: the call reads your code twice.";
    } else {
      $("#delivery-status").textContent = answer.message;
      $("#delivery-status").dataset.status = "refused";
    }
  } finally {
    button.disabled = false;
  }
});
