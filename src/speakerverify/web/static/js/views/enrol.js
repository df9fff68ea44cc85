// Enrol: prompts digits (which one is the scheduler's choice), sends each spoken digit as a take,
// and shows per-digit progress, this session's log and the stored takes. The person can skip the
// digit shown (it comes back later) and pause the microphone (mic-panel.js); takes the server
// flags as `suspect` (e.g. a first-round take that does not sound like its digit next to the later
// ones) are listed with the reason and a Re-record button (delete, then that digit is prompted).

import { api, ApiError } from "../api.js";
import { $, clear, fmtTime, h } from "../dom.js";
import { EnrolmentScheduler } from "../scheduler.js";
import { confirmDialog, describe, guard, REASONS, reasonWords } from "../ui.js";
import { encodeTake } from "../wire.js";

/** @typedef {import("../types.js").EnrolmentProgress} EnrolmentProgress */
/** @typedef {import("../types.js").EnrolmentResult} EnrolmentResult */
/** @typedef {import("../types.js").Utterance} Utterance */
/** @typedef {import("../types.js").UtteranceList} UtteranceList */

const TILE_LABELS = { idle: "", listening: "listening", heard: "heard", sent: "sent", rejected: "rejected", error: "not sent" };

export class EnrolView {
  /** @param {{mic: import("../mic-panel.js").MicPanel}} options */
  constructor({ mic }) {
    this.mic = mic;
    this.section = $("#view-enrol");
    this.scheduler = new EnrolmentScheduler();
    /** @type {EnrolmentProgress | null} the server's word; null until loaded */
    this.progress = null;
    /** @type {Utterance[]} */
    this.takes = [];
    this.current = null; // the digit on screen, or null
    this.seq = 0; // bumped at every new prompt, so a watcher can tell two prompts of one digit apart
    this.refreshing = null; // the list reload in flight, if any (see refreshTakes)
    this.refreshAgain = false;
    this.resetSession();
    $("#enrol-reset").addEventListener("click", guard(() => this.reset()));
    $("#enrol-skip").addEventListener("click", () => this.skip());
  }

  /** Forget what this tab did (signing out, or all takes deleted). */
  resetSession() {
    this.loaded = false;
    this.current = null;
    this.scheduler.reset();
    this.pending = new Array(10).fill(0); // takes sent, not yet answered
    this.tiles = new Array(10).fill("idle");
    this.reasons = new Array(10).fill("");
    clear($("#take-log"));
  }

  forget() {
    this.resetSession();
    this.progress = null;
    this.takes = [];
  }

  async enter() {
    this.mic.attach(this, this.section);
    await this.load();
  }

  leave() {
    this.mic.detach();
  }

  async load() {
    /** @type {UtteranceList} */
    const list = await api("GET", "/enrolment/utterances");
    this.takes = list.utterances;
    this.renderTakes();
    this.applyProgress(list.progress);
    this.loaded = true;
    if (this.mic.listening && this.current === null) this.next();
    this.renderPrompt();
  }

  applyProgress(/** @type {EnrolmentProgress} */ progress) {
    this.progress = progress;
    $("#enrol-progress").value = progress.percent;
    $("#enrol-percent").textContent = `${progress.percent}%`;
    $("#enrol-required").textContent = String(progress.required_takes_per_digit);
    this.renderGrid();
  }

  counts() {
    return {
      takes: this.progress.takes_per_digit,
      pending: this.pending,
      required: this.progress.required_takes_per_digit,
    };
  }

  /** The person would rather not say the digit shown now: it comes back later (scheduler.skip). */
  skip() {
    const digit = this.current;
    if (digit === null) return;
    this.scheduler.skip(digit);
    this.mic.segmenter.restart(); // whatever was being heard belonged to the skipped prompt
    this.tiles[digit] = "idle";
    const item = h("li", { class: "state-skipped", dataset: { digit: String(digit) } },
      h("b", { text: String(digit) }), " ", h("span", { text: "skipped: it will come back later" }));
    $("#take-log").prepend(item);
    this.next();
  }

  next() {
    const digit = this.progress ? this.scheduler.next(this.counts()) : null;
    this.current = digit;
    this.seq += 1;
    if (digit !== null) {
      this.tiles[digit] = "listening";
      this.reasons[digit] = "";
    }
    this.renderPrompt();
    this.renderGrid();
  }

  micReady() {
    if (this.loaded && this.current === null && !this.progress.ready && this.mic.listening) this.next();
    else this.renderPrompt();
  }

  noiseChanged() {
    this.renderPrompt();
  }

  onset() {
    if (this.current !== null) $("#enrol-prompt").dataset.state = "hearing";
  }

  onSegment(frames) {
    const digit = this.current;
    if (digit === null) return;
    if (frames.length < this.mic.config.min_frames) {
      $("#enrol-prompt").dataset.state = "listening";
      $("#enrol-hint").textContent = REASONS.too_short;
      return;
    }
    this.tiles[digit] = "heard";
    this.pending[digit] += 1;
    const item = h("li", { class: "state-heard", dataset: { digit: String(digit) } },
      h("b", { text: String(digit) }), " ", h("span", { text: `heard (${frames.length} frames), sending…` }));
    $("#take-log").prepend(item);
    this.send(digit, frames, item);
    this.next(); // the next prompt goes up while this take is still on its way
  }

  async send(digit, frames, item) {
    const status = item.querySelector("span");
    try {
      // The compact binary form (wire.js): float16 MFCCs and log-energies, 28 bytes a frame.
      const body = encodeTake({ configId: this.mic.config.config_id, digit, frames });
      /** @type {EnrolmentResult} */
      const result = await api("POST", "/enrolment/utterances", body);
      this.pending[digit] -= 1;
      this.tiles[digit] = "sent";
      item.className = "state-sent";
      status.textContent = `sent and accepted (${result.n_frames} frames)`;
      const { progress, ...take } = result;
      this.takes.push(take);
      this.renderTakes();
      this.applyProgress(progress);
      // A new take can make the server flag earlier ones (suspect): reload the list to show them.
      this.refreshTakes();
    } catch (error) {
      this.pending[digit] -= 1;
      if (!(error instanceof ApiError) || error.status !== 422) {
        this.tiles[digit] = "error";
        item.className = "state-rejected";
        status.textContent = `not sent: ${describe(error)}`;
        this.renderGrid();
        if (this.current === null) this.next();
        return;
      }
      const reason = error.reason || "invalid";
      this.tiles[digit] = "rejected";
      this.reasons[digit] = reasonWords(reason, describe(error));
      item.className = "state-rejected";
      item.dataset.reason = reason;
      status.textContent = `not used: ${reasonWords(reason, "")} ${error.message}`.trim();
      this.scheduler.retry(digit);
      this.renderGrid();
    }
    if (this.current === null && !this.progress.ready) this.next();
    else this.renderPrompt();
  }

  /** The prompt card: what the user should do now, as text and as data-state for tests and CSS. */
  renderPrompt() {
    const prompt = $("#enrol-prompt");
    const digitEl = prompt.querySelector(".prompt-digit");
    const hint = $("#enrol-hint");
    prompt.dataset.seq = String(this.seq);
    const show = (state, digitText, text) => {
      prompt.dataset.state = state;
      digitEl.textContent = digitText;
      if (text !== undefined) hint.textContent = text;
    };
    $("#enrol-skip").hidden = !(this.current !== null && this.mic.listening);
    if (this.progress && this.progress.ready && this.current === null) {
      prompt.dataset.digit = "";
      show("ready", "✓");
      clear(hint).append("Your voice model is ready. ", h("a", { href: "#/verify", text: "Verify your voice now" }), ".");
    } else if (this.mic.paused) {
      show("paused", this.current === null ? "‖" : String(this.current),
        "Paused. Press “Resume microphone” when you are ready to go on.");
    } else if (!this.mic.running) {
      show("idle", "–", "Press “Start microphone”, then say the digit you see.");
    } else if (!this.mic.listening) {
      show("calibrating", "…", "Stay quiet for a moment while the room's noise level is measured.");
    } else if (this.current === null) {
      prompt.dataset.digit = "";
      show("waiting", "…", "Waiting for the server to check your last takes…");
    } else {
      prompt.dataset.digit = String(this.current);
      const noisy = this.mic.noiseState === "too_noisy" ? " It is too noisy here for a good take." : "";
      show("listening", String(this.current), (this.reasons[this.current] || "Say this digit, then pause.") + noisy);
    }
  }

  renderGrid() {
    const grid = clear($("#digit-grid"));
    if (!this.progress) return;
    const { takes_per_digit: takes, required_takes_per_digit: required } = this.progress;
    takes.forEach((count, d) => {
      const state = this.tiles[d];
      grid.append(
        h("li", { class: `tile tile-${state}${count >= required ? " tile-done" : ""}`, dataset: { digit: String(d), state } },
          h("span", { class: "tile-digit", text: String(d) }),
          h("span", { class: "tile-count", text: `${count}/${required}` }),
          h("span", { class: "tile-state", text: TILE_LABELS[state], title: this.reasons[d] || undefined })),
      );
    });
  }

  renderTakes() {
    const body = clear($("#takes-table tbody"));
    // Flagged takes first (the list scrolls), then by digit and time.
    const flagFirst = (a, b) => Number(Boolean(suspectOf(b))) - Number(Boolean(suspectOf(a)));
    const takes = this.takes.slice()
      .sort((a, b) => flagFirst(a, b) || a.digit - b.digit || a.created_at.localeCompare(b.created_at));
    if (!takes.length) body.append(h("tr", {}, h("td", { colspan: 5, text: "No takes yet." })));
    for (const take of takes) {
      const when = fmtTime(take.created_at);
      const flag = suspectOf(take);
      body.append(
        h("tr", { class: flag ? "take-suspect" : undefined,
          dataset: { utterance: String(take.utterance_id), digit: String(take.digit), suspect: flag ? flag.code : undefined } },
          h("td", { text: String(take.digit) }),
          h("td", { text: String(take.n_frames) }),
          h("td", { text: when }),
          h("td", { class: "take-check", text: flag ? suspectWords(take.digit, flag) : "ok" }),
          h("td", { class: "row-actions" },
            h("button", {
              type: "button", class: flag ? "small primary" : "small", text: "Re-record",
              "aria-label": `Record digit ${take.digit} again (replaces the take from ${when})`,
              onclick: guard(() => this.remove(take, true)),
            }),
            h("button", {
              type: "button", class: "small danger", text: "Delete",
              "aria-label": `Delete the take of digit ${take.digit} from ${when}`,
              onclick: guard(() => this.remove(take, false)),
            }))),
      );
    }
    this.renderSuspects();
  }

  /** Above the table: how many takes the server wants recorded again, and for which digits. */
  renderSuspects() {
    const flagged = this.takes.filter((t) => suspectOf(t));
    const note = clear($("#takes-suspect"));
    note.hidden = flagged.length === 0;
    if (!flagged.length) return;
    const digits = [...new Set(flagged.map((t) => t.digit))].sort((a, b) => a - b);
    note.append(
      h("strong", { text: `${flagged.length} take${flagged.length === 1 ? "" : "s"} should be recorded again` }),
      ` (digit${digits.length === 1 ? "" : "s"} ${digits.join(", ")}): `,
      "they do not match your other takes. Press “Re-record” on the marked rows.",
    );
  }

  /** Reload the takes list in the background (coalesced: one request in flight, one queued at most). */
  refreshTakes() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = api("GET", "/enrolment/utterances")
      .then((/** @type {UtteranceList} */ list) => {
        this.takes = list.utterances;
        this.renderTakes();
      })
      .catch(() => {}) // a failed background reload changes nothing; the next take reloads again
      .finally(() => {
        this.refreshing = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refreshTakes();
        }
      });
  }

  async remove(/** @type {Utterance} */ take, rerecord) {
    if (this.refreshing) await this.refreshing; // so a stale background reload cannot bring the row back
    await api("DELETE", `/enrolment/utterances/${encodeURIComponent(take.utterance_id)}`);
    /** @type {UtteranceList} */
    const list = await api("GET", "/enrolment/utterances");
    this.takes = list.utterances;
    this.renderTakes();
    this.applyProgress(list.progress);
    if (rerecord) this.scheduler.retry(take.digit, { now: true });
    if (this.mic.listening && (rerecord || this.current === null)) this.next();
    else this.renderPrompt();
    // After renderPrompt, which would put its generic hint over this one.
    if (rerecord && !this.mic.listening) {
      $("#enrol-hint").textContent = `Start the microphone to record digit ${take.digit} again.`;
    }
  }

  async reset() {
    const ok = await confirmDialog(
      "Delete all takes?",
      "This deletes every enrolment take and your voice model. You will need to enrol again before verifying.",
      "Delete all takes",
    );
    if (!ok) return;
    await api("DELETE", "/enrolment");
    this.forget();
    await this.load();
  }
}

/** The server's flag on a take, or null (a missing field is no flag: older servers send none). */
function suspectOf(/** @type {Utterance} */ take) {
  return take.suspect ?? null;
}

function suspectWords(digit, /** @type {import("../types.js").Suspect} */ flag) {
  const why = flag.code === "wrong_digit"
    ? `Does not sound like ${digit} next to your other takes.`
    : reasonWords(flag.code, `Flagged (${flag.code}).`);
  return flag.detail ? `${why} ${flag.detail}` : why;
}
