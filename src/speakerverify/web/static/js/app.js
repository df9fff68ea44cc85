// The speakerverify web client: hash-routed views over the REST API on this origin.
// Speech becomes Meyda MFCC + energy frames in this tab (microphone.js); only those frames,
// cut into one segment per spoken digit (segmenter.js), are ever sent.

import { api, ApiError, session } from "./api.js";
import { barChart, scoreGauge } from "./chart.js";
import { $, $$, clear, fmtNum, fmtTime, h } from "./dom.js";
import { Microphone, microphoneUnavailable } from "./microphone.js";
import { energyDb, Segmenter } from "./segmenter.js";
import { encodeAnswer, encodeTake } from "./wire.js";

const VIEWS = ["login", "enrol", "verify", "intrusion", "account"];
const MIC_VIEWS = new Set(["enrol", "verify"]);

const REASONS = {
  too_short: "Too short: say the whole digit, a little more slowly.",
  too_quiet: "Too quiet: speak up or move closer to the microphone.",
  wrong_digit: "That did not sound like the digit shown: say the digit on the screen.",
};

const app = {
  config: null,
  me: null,
  mic: null,
  segmenter: new Segmenter(),
  consumer: null, // the view currently waiting for spoken digits: enrol or verify
  view: null,
};

// ---------------------------------------------------------------------------------------------
// Messages

function banner(id, kind, text, action) {
  const host = $("#banners");
  const old = document.getElementById(`banner-${id}`);
  if (old) old.remove();
  if (!text) return;
  const el = h("div", { id: `banner-${id}`, class: `banner banner-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { text }));
  if (action) el.append(" ", action);
  el.append(h("button", { type: "button", class: "link", "aria-label": "Dismiss message", onclick: () => el.remove() }, "×"));
  host.append(el);
}

function describe(error) {
  if (error instanceof ApiError) return error.message;
  return (error && error.message) || String(error);
}

function guard(fn) {
  // Every event handler: failures become a visible message, never an unhandled rejection.
  return async (...args) => {
    try {
      await fn(...args);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // handled by onExpired
      banner("action", "error", describe(error));
    }
  };
}

function confirmDialog(title, text, okLabel) {
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

// ---------------------------------------------------------------------------------------------
// Routing

function currentView() {
  const name = location.hash.replace(/^#\/?/, "");
  return VIEWS.includes(name) ? name : null;
}

async function route() {
  let view = currentView();
  if (!session.token) view = "login";
  else if (!view || view === "login") view = "enrol";
  if (`#/${view}` !== location.hash) {
    history.replaceState(null, "", `#/${view}`);
  }
  const changed = view !== app.view;
  app.view = view;
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  $("#nav").hidden = !session.token;
  for (const link of $$("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("#mic-panel").hidden = !MIC_VIEWS.has(view);
  if (MIC_VIEWS.has(view)) $(`#view-${view}`).querySelector(".prompt-card").before($("#mic-panel"));
  if (view !== "verify") verify.abandon();
  app.consumer = view === "enrol" ? enrol : view === "verify" ? verify : null;
  document.body.dataset.view = view;
  if (changed) {
    const heading = $(`#view-${view} h1`);
    if (heading) heading.focus({ preventScroll: false });
  }
  await guard(loaders[view])();
}

const loaders = {
  login: loadLogin,
  enrol: () => enrol.load(),
  verify: () => verify.load(),
  intrusion: async () => {},
  account: loadAccount,
};

function signedOut(message) {
  session.token = null;
  app.me = null;
  enrol.forget();
  if (app.mic) app.mic.stop().catch(() => {});
  app.mic = null;
  app.segmenter.reset();
  setMicStatus("Microphone off.");
  $("#mic-start").disabled = false;
  if (message) banner("session", "info", message);
  location.hash = "#/login";
}

// ---------------------------------------------------------------------------------------------
// Log in / register

let statementLoaded = null;

async function loadLogin() {
  if (statementLoaded) return;
  statementLoaded = api("GET", "/data-statement");
  const statement = await statementLoaded;
  $("#statement-version").textContent = `(version ${statement.version})`;
  const body = clear($("#statement-body"));
  for (const section of statement.sections) {
    body.append(h("h3", { text: section.title }), h("p", { text: section.text }));
  }
  $("#register-form").dataset.statementVersion = statement.version;
}

function formError(form, text) {
  const el = form.querySelector(".form-error");
  el.textContent = text || "";
  el.hidden = !text;
}

function fieldErrors(form, errors) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  let first = null;
  for (const error of errors || []) {
    const field = String(error.pointer || "").replace(/^#?\//, "").split("/")[0];
    const el = form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
    if (!el) continue;
    el.textContent = error.detail;
    el.hidden = false;
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
  return first !== null;
}

async function logIn(email, password) {
  const token = await api("POST", "/sessions", { email, password });
  session.token = token.access_token;
  app.me = null;
  location.hash = "#/enrol";
}

function setupLogin() {
  const loginForm = $("#login-form");
  loginForm.addEventListener("submit", guard(async (event) => {
    event.preventDefault();
    formError(loginForm, "");
    const data = new FormData(loginForm);
    try {
      await logIn(String(data.get("email")).trim(), String(data.get("password")));
      loginForm.reset();
    } catch (error) {
      formError(loginForm, error.status === 401 ? "Wrong email or password." : describe(error));
    }
  }));

  const form = $("#register-form");
  form.addEventListener("submit", guard(async (event) => {
    event.preventDefault();
    formError(form, "");
    fieldErrors(form, []);
    const data = new FormData(form);
    if (!data.get("consent")) {
      fieldErrors(form, [{ pointer: "#/consent", detail: "Please read the data statement and tick the box to register." }]);
      return;
    }
    const demographic = {};
    if (data.get("gender")) demographic.gender = data.get("gender");
    if (data.get("age_group")) demographic.age_group = data.get("age_group");
    const body = {
      email: String(data.get("email")).trim(),
      password: String(data.get("password")),
      alias: String(data.get("alias")).trim(),
      consent: true,
    };
    if (Object.keys(demographic).length) body.demographic = demographic;
    if (form.dataset.statementVersion) body.data_statement_version = form.dataset.statementVersion;
    try {
      await api("POST", "/users", body);
    } catch (error) {
      if (!(error instanceof ApiError) || !fieldErrors(form, error.problem.errors)) formError(form, describe(error));
      return;
    }
    await logIn(body.email, body.password);
    form.reset();
  }));
}

async function me(refresh = false) {
  if (!app.me || refresh) app.me = await api("GET", "/me");
  return app.me;
}

// ---------------------------------------------------------------------------------------------
// Microphone panel

function setMicStatus(text, state) {
  const el = $("#mic-status");
  el.textContent = text;
  el.dataset.state = state || "off";
}

let meterValue = 0;
let meterScheduled = false;

function showLevel(db) {
  meterValue = Math.max(0, Math.min(100, ((db - 20) / (110 - 20)) * 100));
  if (meterScheduled) return;
  meterScheduled = true;
  requestAnimationFrame(() => {
    meterScheduled = false;
    $("#mic-level").value = meterValue;
  });
}

async function ensureMic() {
  if (app.mic && app.mic.running) return true;
  if (!app.config) throw new Error("The feature configuration has not been loaded from the server.");
  if (!globalThis.Meyda) throw new Error("Meyda is not available, so features cannot be computed.");
  if (!app.mic) {
    app.mic = new Microphone(app.config);
    app.mic.onFrame(onFrame);
  }
  setMicStatus("Starting the microphone…", "starting");
  try {
    await app.mic.start();
  } catch (error) {
    app.mic = null;
    setMicStatus(error.message, "error");
    banner("mic", "error", error.message);
    return false;
  }
  banner("mic", "info", null);
  app.segmenter.reset();
  $("#mic-start").textContent = "Microphone on";
  $("#mic-start").disabled = true;
  setMicStatus("Learning the room's noise level: stay quiet for a moment…", "calibrating");
  return true;
}

function onFrame(features) {
  const db = energyDb(features.energy);
  showLevel(db);
  const wasCalibrated = app.segmenter.calibrated;
  const event = app.segmenter.push(features);
  if (!wasCalibrated && app.segmenter.calibrated) {
    setMicStatus("Listening.", "listening");
    if (app.consumer) app.consumer.micReady();
  }
  if (!event) return;
  if (event.type === "onset") {
    setMicStatus("Hearing you…", "hearing");
    if (app.consumer) app.consumer.onset();
  } else if (event.type === "ignored") {
    setMicStatus(
      event.reason === "too_long"
        ? "Ignored a long noise: say one digit at a time, in a quiet spot."
        : "Ignored a short noise.",
      "listening",
    );
  } else if (event.type === "segment") {
    setMicStatus("Listening.", "listening");
    if (app.consumer) app.consumer.onSegment(event.frames);
  }
}

// ---------------------------------------------------------------------------------------------
// Enrol

function shuffle(items) {
  const a = items.slice();
  const random = new Uint32Array(a.length);
  crypto.getRandomValues(random);
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = random[i] % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function progressOf(p) {
  return {
    takes: p.takes_per_digit,
    required: p.required_per_digit ?? p.required_takes_per_digit ?? 6,
    percent: p.percent,
    ready: p.ready,
  };
}

const enrol = {
  loaded: false,
  counts: new Array(10).fill(0),
  pending: new Array(10).fill(0),
  required: 6,
  ready: false,
  bag: [],
  front: [],
  current: null,
  seq: 0,
  tiles: new Array(10).fill("idle"),
  reasons: new Array(10).fill(""),
  takes: [],

  forget() {
    this.loaded = false;
    this.current = null;
    this.bag = [];
    this.front = [];
    this.pending.fill(0);
    this.tiles.fill("idle");
    this.reasons.fill("");
    clear($("#take-log"));
  },

  async load() {
    const profile = await me(true);
    this.applyProgress(progressOf(profile.enrolment));
    const list = await api("GET", "/enrolment/utterances");
    this.takes = list.utterances;
    this.renderTakes();
    this.loaded = true;
    if (app.mic && app.mic.running && app.segmenter.calibrated && this.current === null) this.next();
    this.renderPrompt();
  },

  applyProgress(p) {
    this.counts = p.takes.slice();
    this.required = p.required;
    this.ready = p.ready;
    $("#enrol-progress").value = p.percent;
    $("#enrol-percent").textContent = `${p.percent}%`;
    this.renderGrid();
  },

  needed(d) {
    return this.counts[d] + this.pending[d] < this.required;
  },

  next() {
    let digit = null;
    while (this.front.length && digit === null) {
      const d = this.front.shift();
      if (this.needed(d)) digit = d;
    }
    if (digit === null) {
      this.bag = this.bag.filter((d) => this.needed(d));
      if (!this.bag.length) this.bag = shuffle([...Array(10).keys()].filter((d) => this.needed(d)));
      if (this.bag.length) digit = this.bag.shift();
    }
    this.current = digit;
    this.seq += 1;
    if (digit !== null) {
      this.tiles[digit] = "listening";
      this.reasons[digit] = "";
    }
    this.renderPrompt();
    this.renderGrid();
  },

  micReady() {
    if (this.loaded && this.current === null && !this.ready && app.segmenter.calibrated) this.next();
    else this.renderPrompt();
  },

  onset() {
    if (this.current !== null) this.setPromptState("hearing");
  },

  onSegment(frames) {
    const digit = this.current;
    if (digit === null) return;
    if (frames.length < app.config.min_frames) {
      this.setPromptState("listening");
      $("#enrol-hint").textContent = REASONS.too_short;
      return;
    }
    this.tiles[digit] = "heard";
    this.pending[digit] += 1;
    const item = h("li", { class: "state-heard", dataset: { digit: String(digit) } },
      h("b", { text: String(digit) }), " ", h("span", { text: `heard (${frames.length} frames), sending…` }));
    $("#take-log").prepend(item);
    this.send(digit, frames, item);
    this.next();
  },

  async send(digit, frames, item) {
    const status = item.querySelector("span");
    try {
      // The compact binary form (wire.js): float16 MFCCs and log-energies, 28 bytes a frame.
      const body = encodeTake({ configId: app.config.config_id, digit, frames });
      const result = await api("POST", "/enrolment/utterances", body);
      this.pending[digit] -= 1;
      this.tiles[digit] = "sent";
      item.className = "state-sent";
      status.textContent = `sent and accepted (${result.n_frames} frames)`;
      this.takes.push({ ...result, created_at: new Date().toISOString() });
      this.renderTakes();
      this.applyProgress(progressOf(result.progress));
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
      this.reasons[digit] = REASONS[reason] || describe(error);
      item.className = "state-rejected";
      item.dataset.reason = reason;
      status.textContent = `rejected: ${REASONS[reason] || ""} ${error.message}`.trim();
      this.front.unshift(digit); // ask for it again soon
      this.renderGrid();
    }
    if (this.current === null && !this.ready) this.next();
    else this.renderPrompt();
  },

  setPromptState(state) {
    $("#enrol-prompt").dataset.state = state;
  },

  renderPrompt() {
    const prompt = $("#enrol-prompt");
    const digitEl = prompt.querySelector(".prompt-digit");
    const hint = $("#enrol-hint");
    prompt.dataset.seq = String(this.seq);
    if (this.ready && this.current === null) {
      prompt.dataset.state = "ready";
      prompt.dataset.digit = "";
      digitEl.textContent = "✓";
      clear(hint).append("Your voice model is ready. ", h("a", { href: "#/verify", text: "Verify your voice now" }), ".");
      return;
    }
    if (!app.mic || !app.mic.running) {
      prompt.dataset.state = "idle";
      digitEl.textContent = "–";
      hint.textContent = "Press “Start microphone”, then say the digit you see.";
      return;
    }
    if (!app.segmenter.calibrated) {
      prompt.dataset.state = "calibrating";
      digitEl.textContent = "…";
      hint.textContent = "Stay quiet for a moment while the room's noise level is measured.";
      return;
    }
    if (this.current === null) {
      prompt.dataset.state = "waiting";
      prompt.dataset.digit = "";
      digitEl.textContent = "…";
      hint.textContent = "Waiting for the server to check your last takes…";
      return;
    }
    prompt.dataset.state = "listening";
    prompt.dataset.digit = String(this.current);
    digitEl.textContent = String(this.current);
    hint.textContent = this.reasons[this.current] || "Say this digit, then pause.";
  },

  renderGrid() {
    const grid = clear($("#digit-grid"));
    for (let d = 0; d < 10; d += 1) {
      const state = this.tiles[d];
      const label = { idle: "", listening: "listening", hearing: "hearing", heard: "heard", sent: "sent", rejected: "rejected", error: "not sent" }[state];
      grid.append(
        h("li", { class: `tile tile-${state}${this.counts[d] >= this.required ? " tile-done" : ""}`, dataset: { digit: String(d), state } },
          h("span", { class: "tile-digit", text: String(d) }),
          h("span", { class: "tile-count", text: `${this.counts[d]}/${this.required}` }),
          h("span", { class: "tile-state", text: label, title: this.reasons[d] || undefined })),
      );
    }
  },

  renderTakes() {
    const body = clear($("#takes-table tbody"));
    const takes = this.takes.slice().sort((a, b) => a.digit - b.digit || String(a.created_at).localeCompare(String(b.created_at)));
    if (!takes.length) body.append(h("tr", {}, h("td", { colspan: 4, text: "No takes yet." })));
    for (const take of takes) {
      const when = fmtTime(take.created_at);
      body.append(
        h("tr", { dataset: { utterance: take.utterance_id, digit: String(take.digit) } },
          h("td", { text: String(take.digit) }),
          h("td", { text: String(take.n_frames) }),
          h("td", { text: when }),
          h("td", { class: "row-actions" },
            h("button", {
              type: "button", class: "small", text: "Re-record",
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
  },

  async remove(take, rerecord) {
    await api("DELETE", `/enrolment/utterances/${encodeURIComponent(take.utterance_id)}`);
    this.takes = this.takes.filter((t) => t.utterance_id !== take.utterance_id);
    this.renderTakes();
    const profile = await me(true);
    this.applyProgress(progressOf(profile.enrolment));
    if (rerecord) {
      this.front.unshift(take.digit);
      if (app.mic && app.mic.running && app.segmenter.calibrated) this.next();
      else $("#enrol-hint").textContent = `Start the microphone to record digit ${take.digit} again.`;
    } else if (this.current === null && app.mic && app.mic.running) {
      this.next();
    }
    this.renderPrompt();
  },

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
    if (app.mic && app.mic.running && app.segmenter.calibrated) this.next();
  },
};

// ---------------------------------------------------------------------------------------------
// Verify

const verify = {
  challenge: null,
  index: 0,
  segments: [],
  seq: 0,
  timer: null,

  async load() {
    await this.loadAttempts();
  },

  async loadAttempts() {
    const data = await api("GET", "/verifications");
    const body = clear($("#attempts-table tbody"));
    if (!data.attempts.length) body.append(h("tr", {}, h("td", { colspan: 5, text: "No attempts yet." })));
    for (const a of data.attempts) {
      body.append(h("tr", {},
        h("td", { text: fmtTime(a.created_at) }),
        h("td", { text: (a.digits || []).join(" ") }),
        h("td", { class: `decision-${a.decision}`, text: a.decision }),
        h("td", { text: fmtNum(a.score) }),
        h("td", { text: fmtNum(a.threshold) })));
    }
  },

  abandon() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.challenge) {
      this.challenge = null;
      this.setState("idle");
      $("#verify-start").disabled = false;
    }
  },

  setState(state) {
    $("#challenge").dataset.state = state;
  },

  async start() {
    clear($("#verify-result"));
    $("#verify-hint").textContent = "";
    if (!(await ensureMic())) return;
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
      const left = Math.round((expires - Date.now()) / 1000);
      if (!this.challenge) return;
      if (left <= 0) {
        this.abandon();
        $("#verify-hint").textContent = "The challenge expired before all digits were heard. Press Start verification to try again.";
      }
    }, 500);
    this.render();
  },

  micReady() {
    this.render();
  },

  onset() {
    if (this.challenge) this.setState("hearing");
  },

  onSegment(frames) {
    if (!this.challenge || this.index >= this.challenge.digits.length) return;
    if (frames.length < app.config.min_frames) {
      $("#verify-hint").textContent = REASONS.too_short;
      this.setState("listening");
      return;
    }
    this.segments.push({ digit: this.challenge.digits[this.index], frames });
    this.index += 1;
    this.render();
    if (this.index === this.challenge.digits.length) guard(() => this.submit())();
  },

  render() {
    const list = $("#challenge");
    clear(list);
    if (!this.challenge) return;
    this.seq += 1;
    list.dataset.seq = String(this.seq);
    const digits = this.challenge.digits;
    digits.forEach((d, i) => {
      const state = i < this.index ? "heard" : i === this.index ? "current" : "waiting";
      list.append(h("li", { class: `cdigit cdigit-${state}`, dataset: { state, digit: String(d) },
        "aria-current": state === "current" ? "step" : undefined }, String(d)));
    });
    if (this.index < digits.length) {
      const ready = app.segmenter.calibrated;
      this.setState(ready ? "listening" : "calibrating");
      list.dataset.digit = String(digits[this.index]);
      $("#verify-hint").textContent = ready
        ? `Say ${digits[this.index]} (digit ${this.index + 1} of ${digits.length}).`
        : "Stay quiet for a moment while the room's noise level is measured.";
    } else {
      this.setState("sending");
      list.dataset.digit = "";
      $("#verify-hint").textContent = "Checking…";
    }
  },

  async submit() {
    const challenge = this.challenge;
    let result;
    try {
      const body = encodeAnswer({
        challengeId: challenge.challenge_id,
        configId: app.config.config_id,
        segments: this.segments,
      });
      result = await api("POST", "/verifications", body);
    } finally {
      this.abandon();
    }
    $("#verify-hint").textContent = "";
    this.showResult(result);
    await this.loadAttempts();
  },

  showResult(r) {
    const accept = r.decision === "accept";
    const host = clear($("#verify-result"));
    host.dataset.decision = r.decision;
    const calibration = r.calibration === "deployment"
      ? `Threshold calibrated on this deployment's users for a ${fmtNum(100 * r.target_far, 1)}% false-accept rate.`
      : "Provisional calibration: too few other users are enrolled yet, so a conservative threshold is used.";
    host.append(...[
      h("p", { class: `decision decision-${r.decision}`, text: accept ? "Accepted: it is you." : "Rejected: your voice was not recognised." }),
      scoreGauge(r.score, r.threshold),
      h("p", {}, `Score ${fmtNum(r.score)} against threshold ${fmtNum(r.threshold)}. `, h("span", { class: "calibration", dataset: { calibration: r.calibration }, text: calibration })),
      r.digits_match ? null : h("p", { class: "warn", text: "The digits heard did not match the digits asked for." }),
      h("div", { class: "table-wrap" }, h("table", { class: "per-digit" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Digit" }), h("th", { scope: "col", text: "Frames" }),
          h("th", { scope: "col", text: "Score" }), h("th", { scope: "col", text: "Digit heard right" }))),
        h("tbody", {}, (r.per_digit || []).map((p) => h("tr", {},
          h("td", { text: String(p.digit) }), h("td", { text: String(p.n_frames) }),
          h("td", { text: fmtNum(p.score) }), h("td", { text: p.content_ok ? "yes" : "no" })))))),
    ].filter(Boolean));
  },
};

// ---------------------------------------------------------------------------------------------
// Intrusion test and benchmark

function statTable(columns, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.title })))),
    h("tbody", {}, rows.map((row) => h("tr", { class: row._class || undefined },
      columns.map((c) => h("td", { text: c.format ? c.format(row[c.key]) : String(row[c.key] ?? "–") })))))));
}

async function runIntrusion() {
  const hint = $("#intrusion-hint");
  const host = clear($("#intrusion-result"));
  hint.textContent = "Scoring…";
  const data = await api("GET", "/me/intrusion-test");
  hint.textContent = data.impostors.length
    ? ""
    : "No other user has finished enrolling yet, so there are no impostors to test against.";
  const ref = { alias: "you (reference)", trials: data.reference.trials, accepted: data.reference.accepts,
    mean_score: data.reference.mean_score, _class: "row-reference" };
  const rows = [ref, ...data.impostors.map((i) => ({ alias: i.alias, trials: i.trials, accepted: i.false_accepts, mean_score: i.mean_score }))];
  host.append(
    h("h2", { text: "Intrusion test" }),
    statTable([
      { key: "alias", title: "Speaker" },
      { key: "trials", title: "Trials" },
      { key: "accepted", title: "Accepted" },
      { key: "mean_score", title: "Mean score", format: (v) => fmtNum(v) },
    ], rows),
    barChart({
      title: "Mean score per speaker against your model, with the decision threshold",
      valueLabel: "mean score (higher = more like you)",
      threshold: data.threshold,
      rows: rows.map((r, i) => ({ label: r.alias, value: r.mean_score, kind: i === 0 ? "reference" : "impostor" })),
    }),
    h("p", { class: "hint", text: `Threshold ${fmtNum(data.threshold)}: trials scoring at or above it are accepted.` }),
  );
}

async function runBenchmark() {
  const hint = $("#intrusion-hint");
  const host = clear($("#intrusion-result"));
  hint.textContent = "Scoring…";
  const data = await api("GET", "/me/benchmark");
  hint.textContent = "";
  const others = data.others || [];
  const keys = [];
  for (const o of others) for (const k of Object.keys(o)) if (!keys.includes(k) && typeof o[k] !== "object") keys.push(k);
  host.append(h("h2", { text: "Benchmark" }));
  if (!others.length) {
    host.append(h("p", { text: "No other enrolled users to compare with yet." }));
    return;
  }
  host.append(statTable(keys.map((k) => ({ key: k, title: k.replaceAll("_", " "),
    format: (v) => (typeof v === "number" && !Number.isInteger(v) ? fmtNum(v) : String(v ?? "–")) })), others));
  const scoreKey = keys.find((k) => k.includes("score"));
  if (scoreKey) {
    host.append(barChart({
      title: `Benchmark: ${scoreKey.replaceAll("_", " ")} per user`,
      valueLabel: scoreKey.replaceAll("_", " "),
      threshold: data.threshold,
      rows: others.map((o) => ({ label: String(o.alias ?? "?"), value: o[scoreKey], kind: "other" })),
    }));
  }
}

// ---------------------------------------------------------------------------------------------
// Account

async function loadAccount() {
  const profile = await me(true);
  const dl = clear($("#profile"));
  const demo = profile.demographic || {};
  const rows = [
    ["Alias", profile.alias],
    ["Email", profile.email],
    ["Gender", demo.gender || "not given"],
    ["Age group", demo.age_group || "not given"],
    ["Data statement", `version ${profile.data_statement_version}, agreed ${fmtTime(profile.consented_at)}`],
    ["Member since", fmtTime(profile.created_at)],
    ["Enrolment", `${profile.enrolment.percent}%${profile.enrolment.ready ? " (ready)" : ""}`],
  ];
  for (const [k, v] of rows) dl.append(h("dt", { text: k }), h("dd", { text: v }));
}

async function exportData() {
  const data = await api("GET", "/me/export");
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: "speakerverify-export.json", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  $("#account-hint").textContent = "Your data was saved as speakerverify-export.json.";
}

async function signOut() {
  try {
    await api("DELETE", "/sessions/current");
  } catch {
    // Signing out locally is what matters; an expired token is already unusable.
  }
  signedOut("You are signed out.");
}

async function deleteAccount() {
  const ok = await confirmDialog(
    "Delete your account?",
    "This erases your account, every enrolment take, your voice model and your verification history. It cannot be undone.",
    "Delete my account",
  );
  if (!ok) return;
  await api("DELETE", "/me");
  signedOut("Your account and all its data were erased.");
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function main() {
  setupLogin();
  session.onExpired = () => signedOut("Your session has ended. Please log in again.");
  $("#mic-start").addEventListener("click", guard(async () => {
    if ((await ensureMic()) && app.consumer) app.consumer.micReady();
  }));
  $("#verify-start").addEventListener("click", guard(() => verify.start()));
  $("#enrol-reset").addEventListener("click", guard(() => enrol.reset()));
  $("#intrusion-run").addEventListener("click", guard(runIntrusion));
  $("#benchmark-run").addEventListener("click", guard(runBenchmark));
  $("#export").addEventListener("click", guard(exportData));
  $("#signout").addEventListener("click", guard(signOut));
  $("#delete-account").addEventListener("click", guard(deleteAccount));
  enrol.renderGrid();

  const unavailable = microphoneUnavailable();
  if (unavailable) {
    banner("secure", "error", unavailable.message);
    $("#mic-start").disabled = true;
    $("#verify-start").disabled = true;
    setMicStatus(unavailable.message, "error");
  }
  if (!globalThis.Meyda) {
    banner("meyda", "error",
      "The feature extractor (Meyda) could not be loaded from this server, so enrolment and verification are disabled. " +
        "The operator must install the web assets: npm ci --prefix src/speakerverify/web");
    $("#mic-start").disabled = true;
  }
  try {
    app.config = await api("GET", "/feature-config");
  } catch (error) {
    banner("config", "error", `The feature configuration could not be loaded: ${describe(error)}`);
  }
  window.addEventListener("hashchange", () => route());
  await route();
  document.body.dataset.ready = "true";
}

main();
