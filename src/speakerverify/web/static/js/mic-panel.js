// The microphone panel shared by the enrol and verify views: starts, pauses and resumes the
// microphone, shows its state, input level and how loud the room is next to the voice
// (noise-meter.js), and hands each spoken digit (a segment of feature frames) to the view it is
// attached to. The consumer implements micReady() (also called on pause and resume), onset() and
// onSegment(frames).

import { $ } from "./dom.js";
import { Microphone } from "./microphone.js";
import { NoiseMeter } from "./noise-meter.js";
import { energyDb, Segmenter } from "./segmenter.js";
import { banner, guard } from "./ui.js";

/** What the noise estimate means for the person, in words (noise-meter.js has the thresholds). */
export const NOISE_WORDS = {
  unknown: "",
  quiet: "Quiet enough here.",
  noisy: "Some background noise: speak clearly and close to the microphone; a try may fail.",
  too_noisy: "Too noisy here: your voice is barely above the background. Move somewhere quieter, "
    + "switch off what makes the noise, or come closer to the microphone.",
};

export class MicPanel {
  constructor() {
    /** @type {import("./types.js").FeatureConfig | null} set by main.js once loaded */
    this.config = null;
    this.mic = null;
    this.segmenter = new Segmenter();
    this.consumer = null;
    this.unusable = false;
    this.noise = new NoiseMeter();
    this.noiseState = "unknown";
    this.meterValue = 0;
    this.meterScheduled = false;
    this.paused = false;
    $("#mic-start").addEventListener("click", guard(async () => {
      if ((await this.ensure()) && this.consumer) this.consumer.micReady();
    }));
    $("#mic-pause").addEventListener("click", guard(() => (this.paused ? this.resume() : this.pause())));
  }

  get running() {
    return Boolean(this.mic && this.mic.running);
  }

  /** Stop listening for a while (the room's noise floor is kept); nothing is heard or sent until resume(). */
  async pause() {
    if (!this.running) return;
    this.paused = true;
    await this.mic.pause();
    this.segmenter.restart(); // a digit half heard before the pause is dropped, not glued to the next
    $("#mic-pause").textContent = "Resume microphone";
    $("#mic-pause").setAttribute("aria-pressed", "true");
    this.setStatus("Paused: nothing is heard until you resume.", "paused");
    if (this.consumer) this.consumer.micReady();
  }

  async resume() {
    if (!this.mic || !this.paused) return;
    await this.mic.resume();
    this.paused = false;
    $("#mic-pause").textContent = "Pause microphone";
    $("#mic-pause").setAttribute("aria-pressed", "false");
    this.setStatus("Listening.", "listening");
    if (this.consumer) this.consumer.micReady();
  }

  /** Running and past the noise-floor calibration: spoken digits will be heard. */
  get listening() {
    return this.running && this.segmenter.calibrated;
  }

  /** Show the panel above `section`'s prompt card and send it the spoken digits. */
  attach(consumer, section) {
    this.consumer = consumer;
    const panel = $("#mic-panel");
    panel.hidden = false;
    section.querySelector(".prompt-card").before(panel);
  }

  detach() {
    this.consumer = null;
    $("#mic-panel").hidden = true;
  }

  setStatus(text, state) {
    const el = $("#mic-status");
    el.textContent = text;
    el.dataset.state = state || "off";
  }

  /** This browser or install cannot record at all: the start button stays off, even after signing out. */
  disable(message) {
    this.unusable = true;
    $("#mic-start").disabled = true;
    if (message) this.setStatus(message, "error");
  }

  /** Start the microphone if it is not running; false (with the reason shown) if it cannot. */
  async ensure() {
    if (this.running) return true;
    if (this.paused) {
      await this.resume();
      return true;
    }
    if (!this.config) throw new Error("The feature configuration has not been loaded from the server.");
    if (!globalThis.Meyda) throw new Error("Meyda is not available, so features cannot be computed.");
    if (!this.mic) {
      this.mic = new Microphone(this.config);
      this.mic.onFrame((features) => this.onFrame(features));
    }
    this.setStatus("Starting the microphone…", "starting");
    try {
      await this.mic.start();
    } catch (error) {
      this.mic = null;
      this.setStatus(error.message, "error");
      banner("mic", "error", error.message);
      return false;
    }
    banner("mic", "info", null);
    this.segmenter.reset();
    this.noise.reset();
    this.paused = false;
    $("#mic-pause").hidden = false;
    $("#mic-start").textContent = "Microphone on";
    $("#mic-start").disabled = true;
    this.setStatus("Learning the room's noise level: stay quiet for a moment…", "calibrating");
    return true;
  }

  /** Signing out: the microphone goes off and the next user starts from a fresh noise floor. */
  stop() {
    if (this.mic) this.mic.stop().catch(() => {});
    this.mic = null;
    this.segmenter.reset();
    this.noise.reset();
    this.paused = false;
    $("#mic-pause").hidden = true;
    $("#mic-pause").textContent = "Pause microphone";
    this.showNoise();
    this.setStatus("Microphone off.");
    $("#mic-start").textContent = "Start microphone";
    $("#mic-start").disabled = Boolean(this.unusable);
  }

  showLevel(db) {
    // Frames arrive 100 times a second; the meter is redrawn at most once per animation frame.
    this.meterValue = Math.max(0, Math.min(100, ((db - 20) / (110 - 20)) * 100));
    if (this.meterScheduled) return;
    this.meterScheduled = true;
    requestAnimationFrame(() => {
      this.meterScheduled = false;
      $("#mic-level").value = this.meterValue;
      this.showNoise();
    });
  }

  /** The room's noise next to the voice: a meter (speech over noise, dB) and what to do about it. */
  showNoise() {
    const { state, snrDb, heard } = this.noise.assess(this.running ? this.segmenter.floorDb : null);
    const el = $("#noise-status");
    $("#noise-level").value = snrDb === null ? 0 : Math.max(0, Math.min(40, snrDb));
    // Read by tests and benchmarks/browser_noise.py; the estimate is the page's own, from its own frames.
    el.dataset.snrDb = snrDb === null ? "" : snrDb.toFixed(1);
    el.dataset.heard = String(heard);
    if (state === this.noiseState) return;
    this.noiseState = state;
    el.dataset.state = state;
    el.textContent = NOISE_WORDS[state];
    if (this.consumer && this.consumer.noiseChanged) this.consumer.noiseChanged(state);
  }

  onFrame(features) {
    this.showLevel(energyDb(features.energy));
    const wasCalibrated = this.segmenter.calibrated;
    const event = this.segmenter.push(features);
    if (!wasCalibrated && this.segmenter.calibrated) {
      this.setStatus("Listening.", "listening");
      if (this.consumer) this.consumer.micReady();
    }
    if (!event) return;
    if (event.type === "onset") {
      this.setStatus("Hearing you…", "hearing");
      if (this.consumer) this.consumer.onset();
    } else if (event.type === "ignored") {
      this.setStatus(
        event.reason === "too_long"
          ? "Ignored a long noise: say one digit at a time, in a quiet spot."
          : "Ignored a short noise.",
        "listening",
      );
    } else if (event.type === "segment") {
      this.noise.addSpeech(event.frames.map((f) => f.energy));
      this.showNoise();
      this.setStatus("Listening.", "listening");
      if (this.consumer) this.consumer.onSegment(event.frames);
    }
  }
}
