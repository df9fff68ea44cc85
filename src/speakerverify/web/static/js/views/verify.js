// Verify: asks the server for a challenge, prompts its digits one at a time, sends the spoken
// segments as one answer and shows the decision; below, the account's recent attempts.

import { api, ApiError } from "../api.js";
import { scoreGauge } from "../chart.js";
import { $, clear, fmtNum, fmtTime, h } from "../dom.js";
import { describe, guard, REASONS } from "../ui.js";
import { encodeAnswer } from "../wire.js";

/** @typedef {import("../types.js").AttemptList} AttemptList */
/** @typedef {import("../types.js").Challenge} Challenge */
/** @typedef {import("../types.js").Verification} Verification */

function perDigitTable(/** @type {Verification} */ r) {
  return h("div", { class: "table-wrap" }, h("table", { class: "per-digit" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Digit" }), h("th", { scope: "col", text: "Frames" }),
      h("th", { scope: "col", text: "Score" }), h("th", { scope: "col", text: "Digit heard right" }))),
    h("tbody", {}, r.per_digit.map((p) => h("tr", {},
      h("td", { text: String(p.digit) }), h("td", { text: String(p.n_frames) }),
      h("td", { text: fmtNum(p.score) }), h("td", { text: p.content_ok ? "yes" : "no" }))))));
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
    if (!data.attempts.length) body.append(h("tr", {}, h("td", { colspan: 5, text: "No attempts yet." })));
    for (const a of data.attempts) {
      body.append(h("tr", {},
        h("td", { text: fmtTime(a.created_at) }),
        h("td", { text: a.digits.join(" ") }),
        h("td", { class: `decision-${a.decision}`, text: a.decision }),
        h("td", { text: fmtNum(a.score) }),
        h("td", { text: fmtNum(a.threshold) })));
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
    const accept = r.decision === "accept";
    const host = clear($("#verify-result"));
    host.dataset.decision = r.decision;
    const calibration = r.calibration === "deployment"
      ? `Threshold calibrated on this deployment's users for a ${fmtNum(100 * r.target_far, 1)}% false-accept rate.`
      : "Provisional calibration: too few other users are enrolled yet, so a conservative threshold is used.";
    host.append(...[
      h("p", { class: `decision decision-${r.decision}`, text: accept ? "Accepted: it is you." : "Rejected: your voice was not recognised." }),
      scoreGauge(r.score, r.threshold),
      h("p", {}, `Score ${fmtNum(r.score)} against threshold ${fmtNum(r.threshold)}. `,
        h("span", { class: "calibration", dataset: { calibration: r.calibration }, text: calibration })),
      r.digits_match ? null : h("p", { class: "warn", text: "The digits heard did not match the digits asked for." }),
      perDigitTable(r),
    ].filter(Boolean));
  }
}
