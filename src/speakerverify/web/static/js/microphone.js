// The microphone pipeline: getUserMedia -> AudioContext at the config's rate -> our AudioWorklet
// ring buffer -> frames -> Meyda on this thread -> listeners. Audio samples never leave this module.

import { FeatureExtractor } from "./features.js";

export class MicrophoneError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** Why the microphone cannot be used here at all, or null. */
export function microphoneUnavailable() {
  if (!window.isSecureContext) {
    return new MicrophoneError(
      "insecure",
      "This page is not in a secure context, so the browser will not let it use the microphone. " +
        "Open it over https:// (or on http://localhost) instead.",
    );
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return new MicrophoneError("unsupported", "This browser does not offer microphone access to web pages.");
  }
  if (typeof AudioWorkletNode === "undefined") {
    return new MicrophoneError("unsupported", "This browser lacks AudioWorklet support; use a current browser.");
  }
  return null;
}

function explain(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return new MicrophoneError(
      "blocked",
      "The microphone is blocked for this site. Allow it in the browser's site settings " +
        "(the icon left of the address), then press Start microphone again.",
    );
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return new MicrophoneError("missing", "No microphone was found. Connect one and press Start microphone again.");
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return new MicrophoneError("busy", "The microphone is in use by another application or could not be opened.");
  }
  return new MicrophoneError("failed", `The microphone could not be started (${(error && error.message) || error}).`);
}

/**
 * The browser's own audio processing the page asks for, on enrolment and verification alike (one
 * setting, so enrolment and answers go through the same chain). Automatic gain control and echo
 * cancellation change the gain about 2x and make features drift, so they stay off. Noise suppression
 * is on, by measurement (benchmarks/browser_noise.py, BENCHMARKS.md "Browser noise suppression"):
 * through Chromium's real processing chain it left clean decisions unchanged (0% FRR either way) and
 * cut FRR at white 20 dB from 62% to 7% and at pink 10 dB from 100% to 29%, FAR 0% throughout.
 */
export const AUDIO_PROCESSING = Object.freeze({ echoCancellation: false, noiseSuppression: true, autoGainControl: false });

export class Microphone {
  /** @param {{noiseSuppression?: boolean}} [processing] overrides of AUDIO_PROCESSING (benchmarks) */
  constructor(config, processing = {}) {
    this.config = config;
    this.processing = { ...AUDIO_PROCESSING, ...processing };
    this.context = null;
    this.listeners = new Set();
    this.frameCount = 0;
  }

  get running() {
    return this.context !== null && this.context.state === "running";
  }

  onFrame(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Must be called from a user gesture (a click): browsers only start audio then. */
  async start() {
    if (this.running) return;
    const unavailable = microphoneUnavailable();
    if (unavailable) throw unavailable;
    if (this.context) {
      await this.context.resume();
      return;
    }
    const config = this.config;
    // Created synchronously inside the click, before any await, so that it may start.
    const context = new AudioContext({ sampleRate: config.sample_rate });
    const resumed = context.resume();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, ...this.processing },
        video: false,
      });
    } catch (error) {
      await context.close();
      throw explain(error);
    }
    try {
      await resumed;
      await context.audioWorklet.addModule(new URL("./framer-worklet.js", import.meta.url));
      const node = new AudioWorkletNode(context, "speakerverify-framer", {
        numberOfInputs: 1,
        numberOfOutputs: 0,
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { frameSize: config.frame_size, hopSize: config.hop_size },
      });
      const extractor = new FeatureExtractor(config);
      node.port.onmessage = (event) => {
        const features = extractor.extract(event.data.frame);
        this.frameCount += 1;
        for (const listener of this.listeners) listener(features);
      };
      const source = context.createMediaStreamSource(stream);
      source.connect(node);
      this.context = context;
      this.stream = stream;
      this.node = node;
      this.source = source;
    } catch (error) {
      stream.getTracks().forEach((t) => t.stop());
      await context.close();
      throw new MicrophoneError("failed", `The audio pipeline could not be started (${error.message}).`);
    }
  }

  /** Suspends the audio graph: no frames until resume(); the stream stays open, so no new permission prompt. */
  async pause() {
    if (this.context && this.context.state === "running") await this.context.suspend();
    this.paused = true;
  }

  async resume() {
    if (this.context) await this.context.resume();
    this.paused = false;
  }

  async stop() {
    if (!this.context) return;
    this.node.port.postMessage("stop");
    this.source.disconnect();
    this.stream.getTracks().forEach((t) => t.stop());
    await this.context.close();
    this.context = null;
  }
}
