// Verify: asks the server for a challenge, prompts its digits one at a time (as many as the server
// asked for), sends the spoken segments as one answer and shows the decision in words; below, the
// account's recent attempts. A digit tile turns green only when the answer was accepted: the server
// does not say which digit failed, so after a rejection no tile claims to have passed.

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
 * @type {Record<Reason | "locked", {short: string, sentence: string}>}
 */
export const VERDICTS = {
  accepted: { short: "accepted", sentence: "Accepted: it is you." },
  too_short: { short: "too short", sentence: "Rejected: a digit was too short to judge. Say each digit fully, a little more slowly." },
  replay_suspected: { short: "sounded like a recording",
    sentence: "Rejected: this sounded like a recording of an earlier attempt. Speak live, not from a recording." },
  digits_not_matched: { short: "wrong digits",
    sentence: "Rejected: the digits heard were not the digits asked for. Say the digits shown, in order." },
  voice_not_matched: { short: "voice not recognised",
    sentence: "Rejected: your voice was not recognised. Speak in your normal voice, as when you enrolled." },
  not_speech: { short: "not speech",
    sentence: "Refused: what was sent could not have come from a microphone. Record the digits again." },
  too_noisy: { short: "too noisy",
    sentence: "Not decided: too noisy here to tell your voice apart. Move somewhere quieter (or switch off the "
      + "noise source), come closer to the microphone, and try again." },
  locked: { short: "locked",
    sentence: "Locked: too many rejected attempts in a row. Wait, then try again." },
};

function verdict(/** @type {string} */ reason) {
  return VERDICTS[/** @type {Reason} */ (reason)] ?? { short: reason, sentence: `Rejected (${reason}).` };
}

/** The measured speech-to-noise ratio in the answer, if the server sent one (rounded, in dB), else null. */
export function answerSnrDb(/** @type {Record<string, unknown>} */ r) {
  const value = r.snr_db ?? (r.quality && /** @type {Record<string, unknown>} */ (r.quality).snr_db);
  return typeof value === "number" && Number.isFinite(value) ? Math.round(value) : null;
}

/** A 429 locked-out problem's wait, in words ("about 3 minutes"), or "" when it gives none. */
function waitWords(/** @type {ApiError} */ error) {
  const seconds = Number(error.problem.retry_after);
  if (!Number.isFinite(seconds) || seconds <= 0) return "";
  return seconds < 90 ? `about ${Math.ceil(seconds)} seconds` : `about ${Math.ceil(seconds / 60)} minutes`;
}

function isLocked(error) {
  return error instanceof ApiError && error.status === 429 && String(error.problem.type || "").endsWith("locked-out");
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
    this.outcome = null; // "accept" | "reject" once the server answered the challenge on screen
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
    this.shown = null; // the last attempt's tiles go: they belong to its outcome, not to this one
    clear($("#challenge"));
    $("#verify-hint").textContent = "";
    if (!(await this.mic.ensure())) return;
    let challenge;
    try {
      challenge = await api("POST", "/challenges");
    } catch (error) {
      if (isLocked(error)) {
        this.showLocked(error);
        return;
      }
      if (error instanceof ApiError && error.status === 409) {
        clear($("#verify-hint")).append(
          `${describe(error)} `, h("a", { href: "#/enrol", text: "Continue enrolling" }), ".");
        return;
      }
      throw error;
    }
    this.challenge = challenge;
    this.shown = challenge.digits;
    this.outcome = null;
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
    if (this.challenge) this.render();
  }

  noiseChanged() {
    if (this.challenge) this.render();
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

  /**
   * The challenge's digits and what to do now. While answering each is heard / current / waiting
   * (heard is not green: nothing is judged yet); after the answer every tile is passed (accepted)
   * or not-passed (rejected), never green for an answer that failed.
   */
  render() {
    const list = clear($("#challenge"));
    const digits = this.challenge ? this.challenge.digits : this.shown;
    if (!digits) return;
    this.seq += 1;
    list.dataset.seq = String(this.seq);
    list.dataset.count = String(digits.length);
    digits.forEach((d, i) => {
      let state = i < this.index ? "heard" : i === this.index ? "current" : "waiting";
      if (!this.challenge) state = this.outcome === "accept" ? "passed" : "failed";
      list.append(h("li", { class: `cdigit cdigit-${state}`, dataset: { state, digit: String(d) },
        "aria-current": state === "current" ? "step" : undefined }, String(d)));
    });
    if (!this.challenge) return;
    const hint = $("#verify-hint");
    if (this.index < digits.length) {
      const ready = this.mic.listening;
      list.dataset.state = ready ? "listening" : this.mic.paused ? "paused" : "calibrating";
      list.dataset.digit = String(digits[this.index]);
      const noisy = this.mic.noiseState === "too_noisy" ? " It sounds too noisy here: a quieter spot works better." : "";
      hint.textContent = ready
        ? `Say ${digits[this.index]} (digit ${this.index + 1} of the ${digits.length} asked for).${noisy}`
        : this.mic.paused ? "Paused. Press “Resume microphone” to go on."
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
    } catch (error) {
      if (isLocked(error)) this.showLocked(error);
      // A refused not-speech answer is a 422 problem, listed among the attempts as not_speech.
      else if (error instanceof ApiError && error.status === 422 && error.reason === "not_speech") {
        this.showResult({ attempt_id: 0, decision: "reject", reason: "not_speech" });
      } else throw error;
      return;
    } finally {
      this.abandon();
    }
    $("#verify-hint").textContent = "";
    this.showResult(result);
    await this.loadAttempts();
  }

  showResult(/** @type {Verification} */ r) {
    this.outcome = r.decision;
    this.render();
    const host = clear($("#verify-result"));
    host.dataset.decision = r.decision;
    host.dataset.reason = r.reason;
    host.append(h("p", { class: `decision decision-${r.decision}`, text: verdict(r.reason).sentence }));
    const snr = answerSnrDb(/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (r)));
    if (r.reason === "too_noisy") {
      host.append(h("p", { class: "hint noise-advice", text: snr === null
        ? "Too noisy here: the background drowned your voice."
        : `Too noisy here: your voice was only about ${snr} dB above the background noise.` }));
    }
  }

  showLocked(/** @type {ApiError} */ error) {
    this.outcome = "reject";
    this.render();
    const host = clear($("#verify-result"));
    const wait = waitWords(error);
    host.dataset.decision = "reject";
    host.dataset.reason = "locked";
    host.append(h("p", { class: "decision decision-reject",
      text: wait ? `${VERDICTS.locked.sentence.replace("Wait,", `Wait ${wait},`)}` : VERDICTS.locked.sentence }));
  }
}
