// Reads {float32_bits: [uint32...], takes: [{configId, digit, frames}], answers: [{challengeId, configId?, segments}]}
// as JSON on stdin and prints what the web client's wire.js makes of them: the float16 bit pattern of
// every float32, and every request body as hex. tests/features/test_wire_client.py compares with numpy.
import { encodeAnswer, encodeTake, float16Bits } from "../../src/speakerverify/web/static/js/wire.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const { float32_bits: bits, takes, answers } = JSON.parse(input);
  const values = new Float32Array(Uint32Array.from(bits).buffer);
  process.stdout.write(JSON.stringify({
    float16_bits: Array.from(values, (v) => float16Bits(v)),
    takes: takes.map((t) => hex(encodeTake(t))),
    answers: answers.map((a) => hex(encodeAnswer(a))),
  }));
});
