// Meyda MFCC + energy of one frame, exactly as the server's FeatureConfig describes.
// Meyda is loaded by a classic <script> (served by this service from npm's node_modules).

export class FeatureExtractor {
  constructor(config, meyda = globalThis.Meyda) {
    if (!meyda) throw new Error("Meyda is not loaded");
    this.config = config;
    this.meyda = meyda;
    // Every parameter before the first extract: Meyda caches its mel filterbank on first use.
    meyda.bufferSize = config.frame_size;
    meyda.sampleRate = config.sample_rate;
    meyda.melBands = config.mel_bands;
    meyda.numberOfMFCCCoefficients = config.n_mfcc;
    meyda.windowingFunction = config.window;
    this.scaled = new Float32Array(config.frame_size);
  }

  /** frame: Float32Array of frame_size samples in [-1, 1). Returns {mfcc: number[n_mfcc], energy}. */
  extract(frame) {
    const scale = this.config.input_scale;
    for (let i = 0; i < frame.length; i += 1) this.scaled[i] = frame[i] * scale;
    const out = this.meyda.extract(["mfcc", "energy"], this.scaled);
    return { mfcc: Array.from(out.mfcc), energy: out.energy };
  }
}
