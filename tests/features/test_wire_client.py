"""The web client's binary encoder (static/js/wire.js, run in Node) against numpy and features/wire.py:
its float32 -> float16 conversion must give numpy's bits for every value, its bodies wire.py's bytes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speakerverify.features import wire

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "wire_encode.mjs"


def run_client(float32_bits: np.ndarray, takes: list[dict[str, Any]], answers: list[dict[str, Any]]) -> dict:
    node = shutil.which("node")
    assert node, "node is required for the web client's encoder test (the test set-up installs it)"
    request = {"float32_bits": float32_bits.astype(np.uint32).tolist(), "takes": takes, "answers": answers}
    out = subprocess.run(
        [node, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def f32_bits(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def edge_cases() -> np.ndarray:
    """Float32 values where a float16 conversion goes wrong if it is going to."""
    f16 = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)  # every finite float16 >= 0
    halfway = (f16[:-1] + f16[1:]) / 2  # exactly representable in float32: ties, to even
    ties = np.concatenate([halfway[:1100], halfway[1100::7]]).astype(np.float32)  # every subnormal tie, a spread
    near = np.concatenate([ties, np.nextafter(ties, np.float32(0)), np.nextafter(ties, np.float32(np.inf))])
    special = [
        0.0,
        2.0**-24,  # smallest subnormal
        2.0**-25,  # half of it: a tie, to zero
        np.nextafter(np.float32(2.0**-25), np.float32(1)),  # just above: the smallest subnormal
        1.5 * 2.0**-24,  # tie between subnormals 1 and 2: to 2
        2.0**-14 - 2.0**-25,  # tie between the largest subnormal and the smallest normal
        2.0**-14,
        1e-30,  # far below: zero
        np.float32(1e-45),  # a float32 subnormal
        65504.0,
        65519.0,  # rounds to 65504
        65519.996,
        65520.0,  # the tie beyond 65504: infinity
        65536.0,
        1e6,
        3.4e38,
        np.inf,
        1.0 / 3,
        np.pi,
        2048.5,
        4097.0,
    ]
    values = np.concatenate([f16, near, special]).astype(np.float32)
    return np.concatenate([values, -values])  # negative zero, negative ties, -inf


def test_float16_bits_equal_numpy_for_every_edge_case_and_random_bits() -> None:
    rng = np.random.default_rng(2024)
    random_bits = rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)
    random_bits = random_bits[(random_bits & 0x7F800000) != 0x7F800000]  # NaN payloads: see below
    values = np.concatenate([edge_cases(), random_bits.view(np.float32), [np.float32("nan")]])
    assert len(values) > 20_000
    assert np.signbit(values[np.flatnonzero(values == 0)]).any()  # negative zero is among them
    with np.errstate(over="ignore"):
        expected = values.astype("<f2").view(np.uint16)
    got = np.array(run_client(f32_bits(values), [], [])["float16_bits"], dtype=np.uint16)
    wrong = np.flatnonzero(got != expected)
    assert len(wrong) == 0, [
        (float(values[i]), hex(int(f32_bits(values[i]))), hex(int(got[i])), hex(int(expected[i]))) for i in wrong[:10]
    ]


def frames_for_js(mfcc: np.ndarray, energy: np.ndarray) -> list[dict[str, Any]]:
    return [{"mfcc": row.tolist(), "energy": float(e)} for row, e in zip(mfcc, energy, strict=True)]


def test_client_bodies_equal_the_python_encoder() -> None:
    rng = np.random.default_rng(5)
    utterances = []
    for t in (10, 37, 64):
        mfcc = (rng.normal(0, 40, (t, 13)) * np.linspace(15, 1, 13)).astype(np.float32).astype(np.float64)
        energy = np.exp(rng.uniform(-3, np.log(5e10), t)).astype(np.float32).astype(np.float64)
        energy[0] = 0.0
        mfcc[1, 0], mfcc[2, 3] = 1e5, -7e4  # beyond float16: both encoders clamp to +-65504
        utterances.append((mfcc, energy))
    digits = [4, 0, 9]
    takes = [
        {"configId": "mfcc-8k-v1", "digit": d, "frames": frames_for_js(m, e)}
        for d, (m, e) in zip(digits, utterances, strict=True)
    ]
    answer = {
        "challengeId": "5f0c6b1e-2a7d-4c1e-9d3b-000000000001",
        "configId": "mfcc-8k-v1",
        "segments": [{"digit": d, "frames": frames_for_js(m, e)} for d, (m, e) in zip(digits, utterances, strict=True)],
    }
    no_config = {**answer, "configId": None}
    del no_config["configId"]
    out = run_client(np.zeros(0), takes, [answer, no_config])
    for body, d, (m, e) in zip(out["takes"], digits, utterances, strict=True):
        assert bytes.fromhex(body) == wire.encode_take(m, e, "mfcc-8k-v1", d)
    segments = [(d, m, e) for d, (m, e) in zip(digits, utterances, strict=True)]
    assert bytes.fromhex(out["answers"][0]) == wire.encode_answer(answer["challengeId"], segments, "mfcc-8k-v1")
    assert bytes.fromhex(out["answers"][1]) == wire.encode_answer(answer["challengeId"], segments)
    decoded = wire.decode(bytes.fromhex(out["answers"][0]), 13)
    assert [s["frames"] for s in decoded.header["segments"]] == [10, 37, 64]


def test_non_finite_frames_reach_the_server_as_non_finite() -> None:
    """The client's clamping does not hide a broken frame: it arrives non-finite, and decoding refuses it."""
    take = {"configId": "c", "digit": 1, "frames": frames_for_js(np.zeros((10, 13)), np.ones(10))}
    take["frames"][2]["mfcc"][5] = "NaN"  # JSON has no NaN; JavaScript's arithmetic turns the string into one
    out = run_client(np.zeros(0), [take], [])
    with pytest.raises(wire.WireError, match="value 31 is not finite") as err:
        wire.decode(bytes.fromhex(out["takes"][0]), 13)
    assert err.value.pointer == "#/mfcc"
