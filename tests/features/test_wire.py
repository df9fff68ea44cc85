"""The binary request form (features/wire.py): its exact layout, round trips, and every malformed input."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from speakerverify.features import extract, read_audio, wire
from speakerverify.features.wire import WireError

N = 13


def frames(t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Meyda-like frames at int16 scale: MFCCs up to ~1000 (c0), energies 1 to 5e10."""
    rng = np.random.default_rng(seed)
    mfcc = rng.normal(0, 30, (t, N)) * np.linspace(20, 1, N)
    energy = np.exp(rng.uniform(0, np.log(5e10), t))
    return mfcc, energy


def f16(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype=np.float32).astype("<f2").tobytes()


def test_take_layout_is_exactly_the_documented_one() -> None:
    mfcc, energy = frames(12)
    body = wire.encode_take(mfcc, energy, "mfcc-8k-v1", 7)
    header = b'{"config_id":"mfcc-8k-v1","digit":7,"frames":12}'
    expected = b"SVF1" + struct.pack("<I", len(header)) + header + f16(mfcc) + f16(np.log1p(energy))
    assert body == expected
    assert len(body) == 8 + len(header) + 12 * (N + 1) * 2


def test_answer_layout_and_round_trip() -> None:
    segs = [(3, *frames(40, 1)), (1, *frames(11, 2)), (9, *frames(63, 3))]
    body = wire.encode_answer("c-1", segs, config_id="mfcc-8k-v1")
    (size,) = struct.unpack_from("<I", body, 4)
    header = json.loads(body[8 : 8 + size])
    assert header == {
        "challenge_id": "c-1",
        "config_id": "mfcc-8k-v1",
        "segments": [{"digit": 3, "frames": 40}, {"digit": 1, "frames": 11}, {"digit": 9, "frames": 63}],
    }
    arrays = b"".join(f16(m) + f16(np.log1p(e)) for _, m, e in segs)
    assert body[8 + size :] == arrays
    decoded = wire.decode(body, N)
    assert decoded.header == header
    for (_, mfcc, energy), (m, e) in zip(segs, decoded.arrays, strict=True):
        assert m.dtype == e.dtype == np.float32 and m.shape == mfcc.shape and e.shape == energy.shape
        # float16 rounding: within half a float16 step of every value
        step = np.spacing(np.abs(mfcc).astype(np.float16)).astype(np.float64)
        assert np.all(np.abs(m - mfcc) <= step / 2 + 1e-9)
        # energies through ln(1 + E): relative error at most half a step of ln(1 + E) (< 0.8% below 32)
        assert np.all(np.abs(np.log1p(e.astype(np.float64)) - np.log1p(energy)) <= 2.0**-7 + 1e-6)
        assert np.all(np.abs(e / energy - 1) < 0.008)
    assert "config_id" not in wire.decode(wire.encode_answer("c-2", segs[:1]), N).header


def test_values_beyond_float16_are_clamped_and_zero_energy_stays_zero() -> None:
    mfcc = np.zeros((10, N))
    mfcc[0, 0], mfcc[1, 1] = 1e6, -70000.0
    energy = np.zeros(10)
    decoded = wire.decode(wire.encode_take(mfcc, energy, "x", 0), N)
    m, e = decoded.arrays[0]
    assert m[0, 0] == 65504 and m[1, 1] == -65504 and np.all(e == 0)


def test_real_speech_round_trip(fsdd: Path) -> None:
    mfcc, energy = extract(read_audio(fsdd / "recordings" / "5_jackson_30.wav"))
    m, e = wire.decode(wire.encode_take(mfcc, energy, "mfcc-8k-v1", 5), N).arrays[0]
    assert np.abs(m - mfcc).max() <= 0.5  # |c0| < 1024: float16 steps of 0.5 at most
    loud = energy > 1
    assert np.abs(e[loud] / energy[loud] - 1).max() < 0.008


@pytest.mark.parametrize(
    ("mfcc", "energy", "pointer"),
    [
        (np.zeros((10, N)), np.zeros(9), "#"),
        (np.zeros(10), np.zeros(10), "#"),
        (np.full((10, N), np.nan), np.zeros(10), "#"),
        (np.zeros((10, N)), np.full(10, np.inf), "#"),
        (np.zeros((10, N)), -np.ones(10), "#/energy"),
    ],
    ids=["length", "shape", "nan", "inf", "negative-energy"],
)
def test_unencodable_input_is_refused(mfcc: np.ndarray, energy: np.ndarray, pointer: str) -> None:
    with pytest.raises(WireError) as err:
        wire.encode_take(mfcc, energy, "x", 1)
    assert err.value.pointer == pointer


# --- malformed bodies -----------------------------------------------------------------------------

TAKE = {"config_id": "mfcc-8k-v1", "digit": 4, "frames": 10}
GOOD_ARRAYS = f16(np.ones((10, N))) + f16(np.full(10, 20.0))


def framed(header: object, arrays: bytes = GOOD_ARRAYS) -> bytes:
    text = json.dumps(header).encode()
    return b"SVF1" + struct.pack("<I", len(text)) + text + arrays


def with_value(array: str, value: float, where: int = 3) -> bytes:
    """The good take with one value of ``array`` replaced (written as float16)."""
    mfcc, log_energy = np.ones(10 * N, np.float16), np.full(10, 20.0, np.float16)
    (mfcc if array == "mfcc" else log_energy)[where] = value
    return framed(TAKE, mfcc.astype("<f2").tobytes() + log_energy.astype("<f2").tobytes())


ANSWER = {"challenge_id": "c", "segments": [{"digit": 1, "frames": 10}, {"digit": 2, "frames": 10}]}

MALFORMED = {
    "empty": (b"", "#/magic", "SVF1"),
    "wrong magic": (b"SVF2" + framed(TAKE)[4:], "#/magic", "SVF1"),
    "json instead": (json.dumps(TAKE).encode(), "#/magic", "SVF1"),
    "no header length": (b"SVF1\x05\x00", "#/header_length", "truncated"),
    "huge header length": (b"SVF1" + struct.pack("<I", 2**31) + b"{}", "#/header_length", "at most"),
    "truncated header": (framed(TAKE)[:20], "#/header", "truncated"),
    "header not utf-8": (b"SVF1\x02\x00\x00\x00\xff\xfe", "#/header", "UTF-8"),
    "header not json": (b"SVF1\x03\x00\x00\x00{x}" + GOOD_ARRAYS, "#/header", "JSON"),
    "header NaN": (framed({"frames": float("nan")}), "#/header", "NaN"),
    "header nested": (b"SVF1" + struct.pack("<I", 16000) + b"[" * 16000, "#/header", "JSON"),
    "header not an object": (framed([10]), "#/header", "object"),
    "no frames": (framed({"digit": 4}), "#/frames", "required"),
    "negative frames": (framed({**TAKE, "frames": -1}), "#/frames", "non-negative"),
    "fractional frames": (framed({**TAKE, "frames": 9.5}), "#/frames", "integer"),
    "boolean frames": (framed({**TAKE, "frames": True}), "#/frames", "integer"),
    "text frames": (framed({**TAKE, "frames": "10"}), "#/frames", "integer"),
    "segments not a list": (framed({"challenge_id": "c", "segments": {"frames": 10}}), "#/segments", "list"),
    "segment without frames": (
        framed({"challenge_id": "c", "segments": [{"digit": 1, "frames": 10}, {"digit": 2}]}, GOOD_ARRAYS * 2),
        "#/segments/1",
        "frames",
    ),
    "truncated mfcc": (framed(TAKE, GOOD_ARRAYS[:100]), "#/mfcc", "truncated"),
    "truncated energy": (framed(TAKE, GOOD_ARRAYS[:-2]), "#/energy", "truncated"),
    "second segment missing": (framed(ANSWER), "#/segments/1/mfcc", "truncated"),
    "header says fewer frames": (framed({**TAKE, "frames": 9}), "#", "frame counts (9) need 252 bytes"),
    "header says more frames": (framed({**TAKE, "frames": 11}), "#/mfcc", "frame counts (11) need 308 bytes"),
    "trailing byte": (framed(TAKE, GOOD_ARRAYS + b"\x00"), "#", "1 bytes follow"),
    "NaN mfcc": (with_value("mfcc", np.nan, 17), "#/mfcc", "value 17 is not finite"),
    "infinite mfcc": (with_value("mfcc", -np.inf), "#/mfcc", "not finite"),
    "infinite energy": (with_value("energy", np.inf, 4), "#/energy", "value 4 is not finite"),
    "negative log-energy": (with_value("energy", -0.5, 6), "#/energy", "frame 6 is negative"),
    "log-energy beyond float32": (with_value("energy", 100.0), "#/energy", "exceeds"),
    "bad second segment": (
        framed(ANSWER, GOOD_ARRAYS + with_value("energy", -1.0)[-len(GOOD_ARRAYS) :]),
        "#/segments/1/energy",
        "negative",
    ),
}


@pytest.mark.parametrize(("raw", "pointer", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_raise_with_a_pointer(raw: bytes, pointer: str, message: str) -> None:
    with pytest.raises(WireError) as err:
        wire.decode(raw, N)
    assert err.value.pointer == pointer, err.value
    assert message in err.value.message, err.value
    assert str(err.value).startswith(pointer)


def test_the_good_bodies_of_the_malformed_cases_decode() -> None:
    """The cases above differ from a valid body only in their fault."""
    take = wire.decode(framed(TAKE), N)
    assert take.header == TAKE and take.arrays[0][0].shape == (10, N)
    assert np.allclose(take.arrays[0][1], np.expm1(20.0), rtol=1e-6)
    answer = wire.decode(framed(ANSWER, GOOD_ARRAYS * 2), N)
    assert len(answer.arrays) == 2
    negative_zero = wire.decode(with_value("energy", -0.0), N)
    assert negative_zero.arrays[0][1][3] == 0
