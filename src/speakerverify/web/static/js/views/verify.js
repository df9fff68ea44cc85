// Verify: asks the server for a challenge, prompts its digits one at a time, sends the spoken
// segments as one answer and shows the decision; below, the account's recent attempts.

import { api, ApiError } from "../api.js";
import { $, clear, fmtTime, h } from "../dom.js";
import { describe, guard, REASONS } from "../ui.js";
import { encodeAnswer } from "../wire.js";

/** @typedef {import("../types.js").AttemptList} AttemptList */
/** @typedef {import("../types.js").Challenge} Challenge */
/** @typedef {import("../types.js").Reason} Reason */
/** @typedef {import("../types.js").Verification} Verification */

/**
 * The decision's reason as a sentence the person can act on. The server sends no score: these words
 * are all there is to say, and each says what to do differently (a replay is not "your voice").
 * @type {Record<Reason, {short: string, sentence: string}>}
 */
export const VERDICTS = {
  accepted: { short: "accepted", sentence: "Accepted: it is you." },
  too_short: { short: "too short", sentence: "Rejected: a digit was too short to judge. Say each digit fully, a little more slowly." },
  replay_suspected: { short: "sounded like a recording",
    sentence: "Rejected: this sounded like a recording of an earlier attempt. Speak live, not from a recording." },
  digits_not_matched: { short: "wrong digits",
    sentence: "Rejected: the digits heard were not the digits asked for. Say the digits shown, in order." },
  voice_not_matched: { short: "voice not recognised", sentence: "Rejected: your voice was not recognised." },
  not_speech: { short: "not speech",
    sentence: "Refused: what was sent could not have come from a microphone. Record the digits again." },
};

function verdict(/** @type {string} */ reason) {
  return VERDICTS[/** @type {Reason} */ (reason)] ?? { short: reason, sentence: `Rejected (${reason}).` };
}

export class VerifyView {
  /** @param {{mic: import("../mic-panel.js").MicPanel}} options */
  constructor({ mic }) {
    this.mic = mic;
    this.section = $("#view-verify");
    /** @type {Challenge | null} the challenge being answered */
    this.challenge = null;
    this.index = 0; // how many of its digits have been heard
    this.segments = [];
    this.seq = 0; // bumped at every render, so a watcher can tell two prompts of one digit apart
    this.timer = null;
    $("#verify-start").addEventListener("click", guard(() => this.start()));
  }

  async enter() {
    this.mic.attach(this, this.section);
    await this.loadAttempts();
  }

  leave() {
    this.mic.detach();
    this.abandon();
  }

  async loadAttempts() {
    /** @type {AttemptList} */
    const data = await api("GET", "/verifications");
    const body = clear($("#attempts-table tbody"));
    if (!data.attempts.length) body.append(h("tr", {}, h("td", { colspan: 3, text: "No attempts yet." })));
    for (const a of data.attempts) {
      body.append(h("tr", {},
        h("td", { text: fmtTime(a.created_at) }),
        h("td", { class: `decision-${a.decision}`, text: a.decision }),
        h("td", { class: "reason", dataset: { reason: a.reason }, text: verdict(a.reason).short })));
    }
  }

  /** Drop the challenge in progress (left the view, signed out, or it expired). */
  abandon() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.challenge) {
      this.challenge = null;
      $("#challenge").dataset.state = "idle";
      $("#verify-start").disabled = false;
    }
  }

  async start() {
    clear($("#verify-result"));
    $("#verify-hint").textContent = "";
    if (!(await this.mic.ensure())) return;
    let challenge;
    try {
      challenge = await api("POST", "/challenges");
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        clear($("#verify-hint")).append(
          `${describe(error)} `, h("a", { href: "#/enrol", text: "Continue enrolling" }), ".");
        return;
      }
      throw error;
    }
    this.challenge = challenge;
    this.index = 0;
    this.segments = [];
    $("#verify-start").disabled = true;
    const expires = new Date(challenge.expires_at).getTime();
    this.timer = setInterval(() => {
      if (this.challenge && expires <= Date.now()) {
        this.abandon();
        $("#verify-hint").textContent = "The challenge expired before all digits were heard. Press Start verification to try again.";
      }
    }, 500);
    this.render();
  }

  micReady() {
    this.render();
  }

  onset() {
    if (this.challenge) $("#challenge").dataset.state = "hearing";
  }

  onSegment(frames) {
    if (!this.challenge || this.index >= this.challenge.digits.length) return;
    if (frames.length < this.mic.config.min_frames) {
      $("#verify-hint").textContent = REASONS.too_short;
      $("#challenge").dataset.state = "listening";
      return;
    }
    this.segments.push({ digit: this.challenge.digits[this.index], frames });
    this.index += 1;
    this.render();
    if (this.index === this.challenge.digits.length) guard(() => this.submit())();
  }

  /** The challenge's digits, each heard / current / waiting, and what to do now. */
  render() {
    const list = clear($("#challenge"));
    if (!this.challenge) return;
    this.seq += 1;
    list.dataset.seq = String(this.seq);
    const digits = this.challenge.digits;
    digits.forEach((d, i) => {
      const state = i < this.index ? "heard" : i === this.index ? "current" : "waiting";
      list.append(h("li", { class: `cdigit cdigit-${state}`, dataset: { state, digit: String(d) },
        "aria-current": state === "current" ? "step" : undefined }, String(d)));
    });
    const hint = $("#verify-hint");
    if (this.index < digits.length) {
      const ready = this.mic.segmenter.calibrated;
      list.dataset.state = ready ? "listening" : "calibrating";
      list.dataset.digit = String(digits[this.index]);
      hint.textContent = ready
        ? `Say ${digits[this.index]} (digit ${this.index + 1} of ${digits.length}).`
        : "Stay quiet for a moment while the room's noise level is measured.";
    } else {
      list.dataset.state = "sending";
      list.dataset.digit = "";
      hint.textContent = "Checking…";
    }
  }

  async submit() {
    const challenge = this.challenge;
    let result;
    try {
      const body = encodeAnswer({
        challengeId: challenge.challenge_id,
        configId: this.mic.config.config_id,
        segments: this.segments,
      });
      result = await api("POST", "/verifications", body);
    } finally {
      this.abandon();
    }
    $("#verify-hint").textContent = "";
    this.showResult(result);
    await this.loadAttempts();
  }

  showResult(/** @type {Verification} */ r) {
    const host = clear($("#verify-result"));
    host.dataset.decision = r.decision;
    host.dataset.reason = r.reason;
    host.append(h("p", { class: `decision decision-${r.decision}`, text: verdict(r.reason).sentence }));
  }
}
