// The browser's speech-to-noise estimate (static/js/noise-meter.js) and its "too noisy" states.
import assert from "node:assert/strict";
import { test } from "node:test";

import { NOISY_DB, NOMINAL_SPEECH_DB, NoiseMeter, TOO_NOISY_DB } from "../../src/speakerverify/web/static/js/noise-meter.js";

const energy = (db) => 10 ** (db / 10);

test("no estimate while the noise floor is still being learnt", () => {
  assert.deepEqual(new NoiseMeter().assess(null), { state: "unknown", snrDb: null, heard: false });
});

test("before any speech the nominal speech level is used; a loud room alone is enough to warn", () => {
  const meter = new NoiseMeter();
  assert.equal(meter.assess(30).state, "quiet");
  assert.equal(meter.assess(NOMINAL_SPEECH_DB - 15).state, "noisy");
  assert.equal(meter.assess(NOMINAL_SPEECH_DB - 5).state, "too_noisy");
  assert.equal(meter.assess(NOMINAL_SPEECH_DB - 5).heard, false);
});

test("the noise under a segment is subtracted: speech at 10 dB SNR plus its noise reads 10 dB", () => {
  for (const snr of [5, 10, 20, 30]) {
    const meter = new NoiseMeter();
    const floor = 60;
    // Every frame of the segment is speech (floor + snr) plus the noise under it (floor).
    meter.addSpeech(new Array(40).fill(energy(floor + snr) + energy(floor)));
    const { snrDb, heard } = meter.assess(floor);
    assert.ok(Math.abs(snrDb - snr) < 1e-6, `${snr}: ${snrDb}`);
    assert.equal(heard, true);
  }
});

test("states change at the documented thresholds and follow the person's own level", () => {
  const meter = new NoiseMeter();
  meter.addSpeech([energy(70)]);
  assert.equal(meter.assess(70 - TOO_NOISY_DB - 1).state, "noisy");
  assert.equal(meter.assess(70 - TOO_NOISY_DB + 1).state, "too_noisy");
  assert.equal(meter.assess(70 - NOISY_DB - 1).state, "quiet");
  // A quieter talker later: the median of the last three segments follows them.
  meter.addSpeech([energy(50)]);
  meter.addSpeech([energy(50)]);
  assert.equal(meter.assess(45).state, "too_noisy");
  meter.reset();
  assert.equal(meter.assess(45).heard, false);
});
