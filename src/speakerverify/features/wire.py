"""The compact binary request form of feature payloads, ``application/vnd.speakerverify.frames``.

Layout (every number little-endian)::

    bytes 0-3     magic b"SVF1"
    bytes 4-7     uint32 H: the header's length in bytes
    H bytes       the header, UTF-8 JSON:
                    a take     {"config_id": str, "digit": int, "frames": T}
                    an answer  {"challenge_id": str, "config_id": str (optional),
                                "segments": [{"digit": int, "frames": T}, ...]}
    then, for the take or for each segment in order:
                  T x n_mfcc float16, row-major: the MFCCs
                  T float16: ln(1 + energy)
    and nothing after the last array.

Energies at int16 scale reach ~5e10, beyond float16's largest finite value (65504); ln(1 + E)
keeps their relative precision instead (float16 has an 11-bit significand: below ln(1 + E) = 32
the decoded energy is within 0.8% of the sent one, 0.03 dB). MFCCs lose the same 2^-11 relative.
A frame costs 2 * (n_mfcc + 1) bytes, 28 for 13 MFCCs, against 160 bytes of 8 kHz 16-bit audio.

Errors are :class:`WireError` with a JSON pointer into the payload seen as the JSON form would be:
header fields as in the header (``#/segments/2/frames``), arrays beside them (``#/mfcc``,
``#/energy`` for a take; ``#/segments/2/mfcc`` for an answer), framing faults at ``#/magic``,
``#/header_length`` and ``#/header``, and ``#`` for the body as a whole.

Pure: numpy and the standard library only, no HTTP.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONTENT_TYPE = "application/vnd.speakerverify.frames"
MAGIC = b"SVF1"
PREFIX_BYTES = 8  # magic + header length
MAX_HEADER_BYTES = 16 * 1024  # an 8-segment header is ~300 bytes
FLOAT16_MAX = 65504.0
# Larger log-energies decode to energies beyond float32, the type the server stores.
LOG_ENERGY_MAX = float(np.log(np.finfo(np.float32).max))  # 88.72
_F16 = np.dtype("<f2")


class WireError(ValueError):
    """A payload that is not in the binary form (decoding) or cannot be put into it (encoding)."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.message = message
        self.pointer = pointer


@dataclass(frozen=True)
class Decoded:
    """A decoded payload: its JSON header as sent, and one (mfcc, energy) pair per take or segment.

    ``arrays[i]`` is (mfcc (T_i, n_mfcc) float32, energy (T_i,) float32, Meyda energies, not logs).
    """

    header: dict[str, Any]
    arrays: list[tuple[np.ndarray, np.ndarray]]


# --- encoding -------------------------------------------------------------------------------------


def to_float16(values: Any) -> np.ndarray:
    """``values`` clamped to float16's finite range, then rounded to nearest even: what the form carries.

    Rounds through float32 (as the web client does, and as ``np.float32(x).astype('<f2')`` would).
    """
    return np.clip(np.asarray(values, dtype=np.float64), -FLOAT16_MAX, FLOAT16_MAX).astype(np.float32).astype(_F16)


def encode_arrays(mfcc: Any, energy: Any, where: str = "") -> bytes:
    """The array part of one utterance: mfcc (T, n_mfcc) then ln(1 + energy) (T,), as float16 bytes.

    ``energy`` is Meyda's energy (>= 0, any scale). Non-finite values, negative energies or shapes
    that disagree raise :class:`WireError` (pointer prefix ``where``, e.g. ``/segments/0``).
    """
    m = np.asarray(mfcc, dtype=np.float64)
    e = np.asarray(energy, dtype=np.float64)
    if m.ndim != 2 or e.ndim != 1 or len(m) != len(e):
        raise WireError(f"mfcc must be (T, n_mfcc) and energy (T,); got {m.shape} and {e.shape}", f"#{where}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(e))):
        raise WireError("values must be finite", f"#{where}")
    if np.any(e < 0):
        raise WireError("energy cannot be negative", f"#{where}/energy")
    return to_float16(m).tobytes() + to_float16(np.log1p(e)).tobytes()


def pack(header: Mapping[str, Any], arrays: bytes) -> bytes:
    """Frame ``arrays`` (already encoded) behind the magic, the header length and the compact JSON header."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return MAGIC + struct.pack("<I", len(text)) + text + arrays


def encode_take(mfcc: Any, energy: Any, config_id: str, digit: int) -> bytes:
    """One enrolment take: mfcc (T, n_mfcc), energy (T,) -> the request body."""
    arrays = encode_arrays(mfcc, energy)
    return pack({"config_id": config_id, "digit": int(digit), "frames": len(energy)}, arrays)


def encode_answer(challenge_id: str, segments: Sequence[tuple[int, Any, Any]], config_id: str | None = None) -> bytes:
    """One verification answer: ``segments`` are (digit, mfcc (T, n_mfcc), energy (T,)) in prompted order."""
    parts = [encode_arrays(m, e, f"/segments/{i}") for i, (_, m, e) in enumerate(segments)]
    header: dict[str, Any] = {"challenge_id": challenge_id}
    if config_id is not None:
        header["config_id"] = config_id
    header["segments"] = [{"digit": int(d), "frames": len(e)} for d, _, e in segments]
    return pack(header, b"".join(parts))


# --- decoding -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def split(raw: bytes) -> tuple[dict[str, Any], memoryview]:
    """(the JSON header as an object, the bytes after it); checks the magic, the header length and the JSON."""
    if len(raw) < len(MAGIC) or raw[: len(MAGIC)] != MAGIC:
        raise WireError(f"the body must start with {MAGIC!r} (got {bytes(raw[:4])!r})", "#/magic")
    if len(raw) < PREFIX_BYTES:
        raise WireError("truncated: the 4-byte header length is missing", "#/header_length")
    (size,) = struct.unpack_from("<I", raw, len(MAGIC))
    if size > MAX_HEADER_BYTES:
        raise WireError(f"a header of {size} bytes; at most {MAX_HEADER_BYTES} are accepted", "#/header_length")
    if PREFIX_BYTES + size > len(raw):
        raise WireError(f"truncated: the header needs {size} bytes, {len(raw) - PREFIX_BYTES} follow", "#/header")
    try:
        text = bytes(raw[PREFIX_BYTES : PREFIX_BYTES + size]).decode("utf-8")
        header = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise WireError("the header is not UTF-8", "#/header") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise WireError(f"the header is not valid JSON ({exc})", "#/header") from None
    if not isinstance(header, dict):
        raise WireError("the header must be a JSON object", "#/header")
    return header, memoryview(raw)[PREFIX_BYTES + size :]


def _layout(frames: Sequence[int], n_mfcc: int, where: Sequence[str]) -> list[tuple[str, int, int]]:
    """(pointer, offset in bytes, number of float16 values) of every array, in order."""
    arrays = []
    offset = 0
    for count, prefix in zip(frames, where, strict=True):
        for name, n in (("mfcc", count * n_mfcc), ("energy", count)):
            arrays.append((f"#{prefix}/{name}", offset, n))
            offset += n * _F16.itemsize
    return arrays


def decode_arrays(
    data: bytes | memoryview, frames: Sequence[int], n_mfcc: int, where: Sequence[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut ``data`` into one (mfcc (T, n_mfcc) float32, energy (T,) float32) per entry of ``frames`` (T each).

    ``where[i]`` is the pointer prefix of utterance i ("" for a take, "/segments/i" for an answer).
    The arrays must fill ``data`` exactly (checked first: a header whose frame counts disagree with
    the arrays is named as such), hold finite values and log-energies in [0, LOG_ENERGY_MAX].
    """
    layout = _layout(frames, n_mfcc, where)
    need = sum(n for _, _, n in layout) * _F16.itemsize
    counts = f"the header's frame counts ({', '.join(map(str, frames))}) need {need} bytes of arrays"
    if need < len(data):
        raise WireError(f"{len(data) - need} bytes follow the last array: {counts}, {len(data)} follow", "#")
    if need > len(data):
        short = next(pointer for pointer, offset, n in layout if offset + n * _F16.itemsize > len(data))
        raise WireError(f"truncated inside this array: {counts}, {len(data)} follow", short)
    values = []
    for pointer, offset, n in layout:
        array = np.frombuffer(data, dtype=_F16, count=n, offset=offset)
        bad = np.flatnonzero(~np.isfinite(array))
        if len(bad):
            raise WireError(f"value {int(bad[0])} is not finite", pointer)
        if pointer.endswith("/energy") and n:
            if array.min() < 0:
                raise WireError(f"ln(1 + energy) of frame {int(np.argmin(array))} is negative", pointer)
            if array.max() > LOG_ENERGY_MAX:
                frame = int(np.argmax(array))
                raise WireError(f"ln(1 + energy) of frame {frame} exceeds {LOG_ENERGY_MAX:.2f}", pointer)
        values.append(array.astype(np.float32))
    return [
        (mfcc.reshape(count, n_mfcc), np.expm1(log_energy.astype(np.float64)).astype(np.float32))
        for count, mfcc, log_energy in zip(frames, values[0::2], values[1::2], strict=True)
    ]


def _count(value: Any, pointer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireError("frames must be a non-negative integer", pointer)
    return value


def frame_counts(header: Mapping[str, Any]) -> tuple[list[int], list[str]]:
    """(T per utterance, pointer prefix per utterance) of a take's or an answer's header (``segments`` present)."""
    if "segments" not in header:
        if "frames" not in header:
            raise WireError("frames is required", "#/frames")
        return [_count(header["frames"], "#/frames")], [""]
    segments = header["segments"]
    if not isinstance(segments, list):
        raise WireError("segments must be a list", "#/segments")
    counts = []
    for i, seg in enumerate(segments):
        if not isinstance(seg, dict) or "frames" not in seg:
            raise WireError("each segment needs frames", f"#/segments/{i}")
        counts.append(_count(seg["frames"], f"#/segments/{i}/frames"))
    return counts, [f"/segments/{i}" for i in range(len(counts))]


def decode(raw: bytes, n_mfcc: int) -> Decoded:
    """A whole body (take or answer, told apart by ``segments``) -> :class:`Decoded`; WireError if malformed.

    Checks the format only: digits, ids and frame-count limits are the receiver's to check.
    """
    header, data = split(raw)
    counts, where = frame_counts(header)
    return Decoded(header, decode_arrays(data, counts, n_mfcc, where))
