// What every view shares: messages in the banner strip, the error guard for event handlers, the
// confirmation dialog, and the words for why a take was not used.

import { ApiError } from "./api.js";
import { $, h } from "./dom.js";

/** Why a take or segment was not used: the server's problem `reason`, or the page's own too_short. */
export const REASONS = {
  too_short: "Too short: say the whole digit, a little more slowly.",
  too_quiet: "Too quiet: speak up or move closer to the microphone.",
  wrong_digit: "That did not sound like the digit shown: say the digit on the screen.",
  not_speech: "That did not sound like speech from a microphone: say the digit again, live.",
  too_noisy: "Too noisy: move somewhere quieter, or closer to the microphone, and say it again.",
};

/** The words for a server `reason` code, with a fallback for codes this page does not know yet. */
export function reasonWords(code, fallback) {
  return REASONS[code] || fallback || `Not used (${code}).`;
}

/** Show (or, with no text, remove) the banner `id`; a newer message with the same id replaces it. */
export function banner(id, kind, text, action) {
  const old = document.getElementById(`banner-${id}`);
  if (old) old.remove();
  if (!text) return;
  const el = h("div", { id: `banner-${id}`, class: `banner banner-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { text }));
  if (action) el.append(" ", action);
  el.append(h("button", { type: "button", class: "link", "aria-label": "Dismiss message", onclick: () => el.remove() }, "×"));
  $("#banners").append(el);
}

export function describe(error) {
  if (error instanceof ApiError) return error.message;
  return (error && error.message) || String(error);
}

/** Wrap an event handler so a failure becomes a visible message, never an unhandled rejection. */
export function guard(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (error) {
      // An expired session is already handled: session.onExpired signs the tab out.
      if (error instanceof ApiError && error.status === 401) return;
      banner("action", "error", describe(error));
    }
  };
}

/** The page's one modal dialog; resolves true only when the user pressed the OK button. */
export function confirmDialog(title, text, okLabel) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}
