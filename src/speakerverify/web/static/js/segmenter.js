// Energy-based segmentation of one spoken digit at a time, frame by frame (one frame per hop).
//
// Works on 10*log10(energy) of Meyda's energy at int16 scale (a full-scale sine frame is
// about 125 dB, int16 rounding noise about 20 dB):
// - an adaptive noise floor learnt while nobody speaks (falls fast, rises slowly, never below
//   `minFloorDb`), so a humming fan or a noisy street raises the thresholds with it;
// - onset when `onsetFrames` consecutive frames are `onsetDb` above the floor (and above
//   `minOnsetDb`), with `preRollFrames` kept before it so the first consonant is not cut;
// - hysteresis: the digit goes on while frames stay above max(floor + offsetDb, peak - peakDropDb);
//   it ends after `hangFrames` quiet frames (long enough to bridge the stop closures of
//   "six" and "eight"), and the trailing quiet frames are trimmed to `postRollFrames`;
// - bursts with fewer than `minSpeechFrames` loud frames (clicks, knocks) are ignored;
//   anything longer than `maxFrames` is not one digit (a door, music, a new noise): it is
//   dropped and the floor is re-learnt from it.

export const DEFAULTS = Object.freeze({
  calibrationFrames: 15,
  minFloorDb: 30,
  onsetDb: 12,
  minOnsetDb: 55,
  offsetDb: 6,
  peakDropDb: 50,
  onsetFrames: 3,
  hangFrames: 25,
  preRollFrames: 5,
  postRollFrames: 3,
  minSpeechFrames: 6,
  maxFrames: 150,
  floorRise: 0.02,
  floorFall: 0.3,
});

export function energyDb(energy) {
  return 10 * Math.log10(Math.max(energy, 0) + 1e-3);
}

export class Segmenter {
  constructor(options = {}) {
    this.opts = { ...DEFAULTS, ...options };
    this.reset();
  }

  /** Forget everything, including the noise floor (e.g. after the microphone changed). */
  reset() {
    this.calibration = [];
    this.floorDb = null;
    this.restart();
  }

  /** Keep the noise floor; drop any digit in progress (e.g. when a new prompt is shown). */
  restart() {
    this.state = "idle";
    this.preRoll = [];
    this.frames = [];
    this.above = 0;
    this.quiet = 0;
    this.loud = 0;
    this.peakDb = -Infinity;
    this.lastLoud = -1;
  }

  get calibrated() {
    return this.floorDb !== null;
  }

  onsetThreshold() {
    return Math.max(this.floorDb + this.opts.onsetDb, this.opts.minOnsetDb);
  }

  updateFloor(db) {
    const o = this.opts;
    const rate = db < this.floorDb ? o.floorFall : o.floorRise;
    this.floorDb = Math.max(o.minFloorDb, this.floorDb + rate * (db - this.floorDb));
  }

  /**
   * Feed one frame `{mfcc, energy}`; returns null or an event:
   * {type: "onset"}, {type: "segment", frames}, {type: "ignored", reason: "too_short"|"too_long", nFrames}.
   */
  push(frame) {
    const o = this.opts;
    const db = energyDb(frame.energy);
    if (this.floorDb === null) {
      this.calibration.push(db);
      if (this.calibration.length >= o.calibrationFrames) {
        const sorted = [...this.calibration].sort((a, b) => a - b);
        this.floorDb = Math.max(o.minFloorDb, sorted[Math.floor(sorted.length * 0.2)]);
      }
      return null;
    }
    if (this.state === "idle") {
      this.preRoll.push(frame);
      if (this.preRoll.length > o.preRollFrames + o.onsetFrames) this.preRoll.shift();
      if (db > this.onsetThreshold()) {
        this.above += 1;
        if (this.above >= o.onsetFrames) {
          this.state = "speech";
          this.frames = this.preRoll.slice();
          this.preRoll = [];
          this.loud = this.above;
          this.quiet = 0;
          this.peakDb = db;
          this.lastLoud = this.frames.length - 1;
          this.above = 0;
          return { type: "onset" };
        }
      } else {
        this.above = 0;
        this.updateFloor(db);
      }
      return null;
    }
    // state === "speech"
    this.frames.push(frame);
    this.peakDb = Math.max(this.peakDb, db);
    const offThreshold = Math.max(this.floorDb + o.offsetDb, this.peakDb - o.peakDropDb);
    if (db > offThreshold) {
      this.quiet = 0;
      this.lastLoud = this.frames.length - 1;
      if (db > this.onsetThreshold()) this.loud += 1;
    } else {
      this.quiet += 1;
    }
    if (this.frames.length > o.maxFrames) {
      const n = this.frames.length;
      // Not a digit: a sustained noise. Let the floor climb to it so it does not trigger again.
      const sorted = this.frames.map((f) => energyDb(f.energy)).sort((a, b) => a - b);
      this.floorDb = Math.max(this.floorDb, sorted[Math.floor(sorted.length / 2)] - o.offsetDb);
      this.restart();
      return { type: "ignored", reason: "too_long", nFrames: n };
    }
    if (this.quiet >= o.hangFrames) {
      const frames = this.frames.slice(0, Math.min(this.frames.length, this.lastLoud + 1 + o.postRollFrames));
      const loud = this.loud;
      this.restart();
      if (loud < o.minSpeechFrames) return { type: "ignored", reason: "too_short", nFrames: frames.length };
      return { type: "segment", frames };
    }
    return null;
  }
}
