"""Compact, pickle-free encodings of arrays for BLOB columns."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..models.io import load_arrays, save_arrays

_F32 = np.dtype("<f4")


def encode_f32(values: np.ndarray) -> bytes:
    """Raw little-endian float32 bytes, C order (shape is stored in other columns)."""
    return np.ascontiguousarray(values, dtype=_F32).tobytes()


def decode_f32(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(blob, dtype=_F32).reshape(shape).astype(np.float32)


def encode_npz(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    save_arrays(buf, arrays, meta)
    return buf.getvalue()


def decode_npz(blob: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return load_arrays(io.BytesIO(blob))
