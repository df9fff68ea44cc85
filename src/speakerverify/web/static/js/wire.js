// The compact binary request form, application/vnd.speakerverify.frames (features/wire.py defines it):
//   "SVF1", uint32 little-endian header length H, H bytes of UTF-8 JSON header, then for the take or
//   each segment in order: T x n_mfcc float16 MFCCs (row-major) and T float16 values of ln(1 + energy),
//   all little-endian. 2 * (n_mfcc + 1) bytes per frame: 28, against 160 for the 8 kHz audio itself.
// No dependencies: imported by the page (api.js, app.js) and by the Node parity test (tests/node).

export const FRAMES_TYPE = "application/vnd.speakerverify.frames";
const MAGIC = [0x53, 0x56, 0x46, 0x31]; // "SVF1"
const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/**
 * The IEEE 754 binary16 bit pattern (0..0xffff) of float32(x), rounded to nearest, ties to even:
 * the bytes numpy's `np.float32(x).astype("<f2")` gives. Beyond 65504 (from 65520 up) is infinity,
 * below 2^-25 is a signed zero, NaN stays a (quiet) NaN.
 */
export function float16Bits(x) {
  f32[0] = x; // the float32 the value is first rounded to
  const bits = f32Bits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (fraction ? 0x200 | (fraction >>> 13) : 0);
  const e = exponent - 127; // float32 subnormals land below -25: zero
  if (e > 15) return sign | 0x7c00;
  if (e < -25) return sign;
  // 24-bit significand with its leading 1; float16 keeps 11 bits of it, fewer for its subnormals (e < -14).
  const significand = fraction | 0x800000;
  const drop = e >= -14 ? 13 : 13 + (-14 - e); // 13..24
  let kept = significand >>> drop;
  const rest = significand & ((1 << drop) - 1);
  const half = 1 << (drop - 1);
  if (rest > half || (rest === half && (kept & 1))) kept += 1;
  // Normal: biased exponent e + 15 above 10 fraction bits, and `kept` still holds the leading 1 (1024),
  // hence e + 14. A carry out of the significand moves into the exponent: to infinity past 65504, and from
  // the largest subnormal to the smallest normal.
  return sign | (e >= -14 ? ((e + 14) << 10) + kept : kept);
}

function clamp(x) {
  return Math.min(FLOAT16_MAX, Math.max(-FLOAT16_MAX, x)); // NaN stays NaN (and is refused by the server)
}

/** frames: [{mfcc: number[n_mfcc], energy: number}] -> (T * n_mfcc + T) float16 bit patterns. */
function utteranceBits(frames) {
  const out = [];
  for (const frame of frames) for (const c of frame.mfcc) out.push(float16Bits(clamp(c)));
  for (const frame of frames) out.push(float16Bits(clamp(Math.log1p(frame.energy))));
  return out;
}

function pack(header, utterances) {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const values = utterances.flatMap(utteranceBits);
  const bytes = new Uint8Array(8 + head.length + 2 * values.length);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, head.length, true);
  bytes.set(head, 8);
  values.forEach((bitsOfValue, i) => view.setUint16(8 + head.length + 2 * i, bitsOfValue, true));
  return bytes;
}

/** One enrolment take: frames [{mfcc, energy}] of the prompted digit -> the request body (Uint8Array). */
export function encodeTake({ configId, digit, frames }) {
  return pack({ config_id: configId, digit, frames: frames.length }, [frames]);
}

/** One verification answer: segments [{digit, frames}] in prompted order -> the request body (Uint8Array). */
export function encodeAnswer({ challengeId, configId, segments }) {
  const header = { challenge_id: challengeId };
  if (configId !== undefined) header.config_id = configId;
  header.segments = segments.map((s) => ({ digit: s.digit, frames: s.frames.length }));
  return pack(header, segments.map((s) => s.frames));
}
