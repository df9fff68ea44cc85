// Reads {config, frames} as JSON on stdin, runs Meyda.extract on every frame
// (frames already multiplied by the input scale), prints {mfcc, energy}.
import Meyda from "meyda";

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const { config, frames } = JSON.parse(input);
  // Every parameter is set before the first extract: Meyda caches the filterbank.
  Meyda.bufferSize = config.frame_size;
  Meyda.sampleRate = config.sample_rate;
  Meyda.melBands = config.mel_bands;
  Meyda.numberOfMFCCCoefficients = config.n_mfcc;
  Meyda.windowingFunction = config.window;
  const mfcc = [];
  const energy = [];
  for (const frame of frames) {
    const features = Meyda.extract(["mfcc", "energy"], Float32Array.from(frame));
    mfcc.push(Array.from(features.mfcc));
    energy.push(features.energy);
  }
  process.stdout.write(JSON.stringify({ mfcc, energy }));
});
