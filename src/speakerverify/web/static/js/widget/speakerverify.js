// The drop-in widget for relying parties: one module tag and one element.
//
//   <script type="module" src="(the service origin)/widget/speakerverify.js"></script>
//   <speakerverify-enrol session="SESSION_TOKEN"></speakerverify-enrol>
//   <speakerverify-verify session="SESSION_TOKEN"></speakerverify-verify>
//
// Both elements run the first-party client's own microphone -> Meyda -> segmenter pipeline (imported,
// not copied) and send only features, to the service this module was loaded from. When done they
// dispatch `speakerverify-done` (bubbles, composed): {ready: true} after enrolment, {result_token,
// decision, reason} after a verification; on failure `speakerverify-error` with {status, reason,
// message}. The host element's data-state (and data-digit, data-seq while prompting) say what the
// element is doing, for the page's CSS and for tests.
//
// Imports are absolute paths: this file is served both at /widget/speakerverify.js and under /static/js/,
// and an absolute path resolves against the service's origin either way.

import { Microphone } from "/static/js/microphone.js";
import { EnrolmentScheduler } from "/static/js/scheduler.js";
import { Segmenter } from "/static/js/segmenter.js";
import { REASONS } from "/static/js/ui.js";
import { VERDICTS } from "/static/js/views/verify.js";
import { encodeAnswer, encodeTake } from "/static/js/wire.js";
import { retryable, ServiceClient, serviceBase, verifyDetail, WidgetError } from "/static/js/widget/client.js";

const BASE = serviceBase(import.meta.url);

const STYLE = `
:host { display: block; font: inherit; color: inherit; max-width: 28rem; }
.box { border: 1px solid #8889; border-radius: 0.5rem; padding: 1rem; }
.digit { font-size: 3rem; font-weight: 700; line-height: 1.2; text-align: center; min-height: 3.6rem; }
.status { min-height: 1.5em; margin: 0.5rem 0 0; }
button { font: inherit; padding: 0.4rem 1rem; cursor: pointer; }
button:focus-visible { outline: 3px solid #36c; outline-offset: 2px; }
progress { width: 100%; }
[hidden] { display: none !important; }
`;

let meyda = null;

/** Meyda (a classic script, like the first-party page loads it) from the service, once per page. */
function loadMeyda() {
  if (globalThis.Meyda) return Promise.resolve();
  if (!meyda) {
    meyda = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL("/static/vendor/meyda.min.js", BASE).href;
      script.crossOrigin = "anonymous"; // fetched in CORS mode, like the modules
      script.onload = () => (globalThis.Meyda ? resolve() : reject(new WidgetError(0, { detail: "Meyda did not load." })));
      script.onerror = () => {
        meyda = null;
        reject(new WidgetError(0, { detail: "Meyda could not be loaded from the voice service." }));
      };
      document.head.append(script);
    });
  }
  return meyda;
}

/** What both elements share: the shadow DOM, the microphone and segmenter, the events. */
class VoiceElement extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    // A constructed style sheet, not a <style> element: a relying party's CSP need not allow inline styles.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    // Built node by node: the page's own code never parses HTML strings (tests/e2e/test_pages.py).
    const make = (tag, className, attrs = {}) => {
      const node = document.createElement(tag);
      if (className) node.className = className;
      for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
      return node;
    };
    const box = make("div", "box", { part: "box" });
    this.ui = {
      title: make("p", "title", { part: "title" }),
      digit: make("div", "digit", { part: "digit", "aria-hidden": "true" }),
      progress: make("progress", "", { part: "progress", max: "100", value: "0", hidden: "" }),
      button: make("button", "start", { type: "button", part: "button", disabled: "" }),
      status: make("p", "status", { part: "status", role: "status", "aria-live": "polite" }),
    };
    this.ui.button.textContent = "Start microphone";
    box.append(this.ui.title, this.ui.digit, this.ui.progress, this.ui.button, this.ui.status);
    root.append(box);
    this.ui.button.addEventListener("click", () => this.guard(() => this.start()));
    this.mic = null;
    this.segmenter = new Segmenter();
    this.seq = 0;
    this.finished = false;
  }

  connectedCallback() {
    if (this.client) return;
    this.setState("loading", "Loading…");
    this.guard(async () => {
      this.client = new ServiceClient(BASE, this.getAttribute("session"));
      const [config] = await Promise.all([this.client.request("GET", "/feature-config", undefined, { anonymous: true }), loadMeyda()]);
      this.config = config;
      await this.prepare();
    });
  }

  disconnectedCallback() {
    this.stopMic();
  }

  setState(state, text) {
    this.dataset.state = state;
    if (text !== undefined) this.ui.status.textContent = text;
  }

  /** Show `digit` (or clear the prompt) with a new data-seq, so a watcher can tell two prompts apart. */
  prompt(digit, text) {
    this.seq += 1;
    this.dataset.seq = String(this.seq);
    this.dataset.digit = digit === null ? "" : String(digit);
    this.ui.digit.textContent = digit === null ? "" : String(digit);
    this.ui.digit.setAttribute("aria-hidden", digit === null ? "true" : "false");
    this.setState(digit === null ? this.dataset.state : "listening", text);
  }

  /** Start the microphone (from the button's click); resolves once it runs. */
  async startMic() {
    if (!this.mic) {
      this.mic = new Microphone(this.config);
      this.mic.onFrame((features) => this.onFrame(features));
    }
    this.ui.button.disabled = true;
    this.setState("starting", "Starting the microphone…");
    try {
      await this.mic.start();
    } catch (error) {
      this.mic = null;
      this.ui.button.disabled = false;
      throw error;
    }
    this.segmenter.reset();
    this.ui.button.hidden = true;
    this.setState("calibrating", "Stay quiet for a moment while the room's noise level is measured…");
  }

  stopMic() {
    if (this.mic) this.mic.stop().catch(() => {});
    this.mic = null;
  }

  onFrame(features) {
    if (this.finished) return;
    const wasCalibrated = this.segmenter.calibrated;
    const event = this.segmenter.push(features);
    if (!wasCalibrated && this.segmenter.calibrated) this.guard(() => this.listening());
    if (!event) return;
    if (event.type === "onset" && this.dataset.state === "listening") this.setState("hearing");
    else if (event.type === "ignored") this.ui.status.textContent = "Ignored a noise: say one digit at a time.";
    else if (event.type === "segment") {
      if (this.dataset.state === "hearing") this.setState("listening");
      if (event.frames.length < this.config.min_frames) this.ui.status.textContent = REASONS.too_short;
      else this.guard(() => this.onSegment(event.frames));
    }
  }

  finish(detail, text) {
    this.finished = true;
    this.stopMic();
    this.prompt(null);
    this.setState("done", text);
    this.dispatchEvent(new CustomEvent("speakerverify-done", { detail, bubbles: true, composed: true }));
  }

  fail(error) {
    this.finished = true;
    this.stopMic();
    const failure = error instanceof WidgetError ? error : new WidgetError(0, { detail: error.message || String(error) });
    this.prompt(null);
    this.setState("error", failure.message);
    this.ui.button.hidden = true;
    this.dispatchEvent(new CustomEvent("speakerverify-error", { detail: failure.detail, bubbles: true, composed: true }));
  }

  /** Run `fn`; any failure ends the element with `speakerverify-error`, never an unhandled rejection. */
  async guard(fn) {
    try {
      await fn();
    } catch (error) {
      if (!this.finished) this.fail(error);
    }
  }
}

export class SpeakerverifyEnrol extends VoiceElement {
  async prepare() {
    this.ui.title.textContent = "Enrol your voice: say each digit shown, then pause.";
    this.ui.progress.hidden = false;
    this.ui.progress.setAttribute("aria-label", "Enrolment progress");
    this.scheduler = new EnrolmentScheduler();
    this.pending = new Array(10).fill(0);
    this.current = null;
    const list = await this.client.request("GET", "/enrolment/utterances");
    this.applyProgress(list.progress);
    if (this.progress.ready) {
      this.finish({ ready: true }, "Your voice is enrolled.");
      return;
    }
    this.ui.button.disabled = false;
    this.setState("idle", "Press Start microphone, then say the digits shown.");
  }

  async start() {
    await this.startMic();
  }

  applyProgress(progress) {
    this.progress = progress;
    this.ui.progress.value = progress.percent;
  }

  listening() {
    this.next();
  }

  next() {
    const counts = { takes: this.progress.takes_per_digit, pending: this.pending, required: this.progress.required_takes_per_digit };
    this.current = this.scheduler.next(counts);
    if (this.current === null) {
      this.prompt(null);
      this.setState("sending", "Checking your last takes…");
    } else {
      this.prompt(this.current, `Say ${this.current}, then pause.`);
    }
  }

  async onSegment(frames) {
    const digit = this.current;
    if (digit === null) return;
    this.pending[digit] += 1;
    this.next(); // the next prompt goes up while this take is on its way, as in the first-party view
    try {
      const body = encodeTake({ configId: this.config.config_id, digit, frames });
      const result = await this.client.request("POST", "/enrolment/utterances", body);
      this.pending[digit] -= 1;
      this.applyProgress(result.progress);
    } catch (error) {
      this.pending[digit] -= 1;
      if (!retryable(error)) throw error;
      this.scheduler.retry(digit);
      this.ui.status.textContent = REASONS[error.reason] || error.message;
    }
    if (this.progress.ready) this.finish({ ready: true }, "Your voice is enrolled.");
    else if (this.current === null) this.next();
  }
}

export class SpeakerverifyVerify extends VoiceElement {
  async prepare() {
    this.ui.title.textContent = "Confirm it is you: say the digits shown, one at a time.";
    this.ui.button.textContent = "Start";
    this.ui.button.setAttribute("aria-label", "Start voice verification");
    this.ui.button.disabled = false;
    this.setState("idle", "Press Start, then say each digit shown.");
  }

  async start() {
    await this.startMic();
    this.challenge = await this.client.request("POST", "/challenges");
    this.segments = [];
    const expires = new Date(this.challenge.expires_at).getTime();
    this.timer = setTimeout(() => {
      if (!this.finished) this.fail(new WidgetError(0, { detail: "The challenge expired before every digit was heard." }));
    }, Math.max(0, expires - Date.now()));
    if (this.segmenter.calibrated) this.listening();
  }

  listening() {
    if (!this.challenge) return; // the challenge is still on its way: prompted when it arrives
    const digits = this.challenge.digits;
    const i = this.segments.length;
    this.prompt(digits[i], `Say ${digits[i]} (digit ${i + 1} of ${digits.length}).`);
  }

  async onSegment(frames) {
    if (!this.challenge || this.dataset.state === "sending") return;
    const digits = this.challenge.digits;
    this.segments.push({ digit: digits[this.segments.length], frames });
    if (this.segments.length < digits.length) {
      this.listening();
      return;
    }
    clearTimeout(this.timer);
    this.prompt(null);
    this.setState("sending", "Checking…");
    const body = encodeAnswer({ challengeId: this.challenge.challenge_id, configId: this.config.config_id, segments: this.segments });
    const verification = await this.client.request("POST", "/verifications", body);
    const words = VERDICTS[verification.reason];
    this.finish(verifyDetail(verification), words ? words.sentence : verification.decision);
  }

  disconnectedCallback() {
    clearTimeout(this.timer);
    super.disconnectedCallback();
  }
}

if (!customElements.get("speakerverify-enrol")) customElements.define("speakerverify-enrol", SpeakerverifyEnrol);
if (!customElements.get("speakerverify-verify")) customElements.define("speakerverify-verify", SpeakerverifyVerify);
