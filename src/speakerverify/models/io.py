"""Saving mixtures and speaker statistics as plain arrays + JSON metadata (no pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import numpy as np

from .gmm import DiagGMM
from .speaker import SpeakerModel

FORMAT_VERSION = 1


def save_arrays(path: str | Path | IO[bytes], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write an .npz of float arrays plus a JSON ``meta`` entry (format version included)."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.frombuffer(json.dumps({"format_version": FORMAT_VERSION, **meta}).encode(), dtype=np.uint8)
    np.savez_compressed(path, allow_pickle=False, **payload)


def load_arrays(path: str | Path | IO[bytes]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read what ``save_arrays`` wrote; object arrays are refused (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "meta"}
        meta = json.loads(data["meta"].tobytes().decode()) if "meta" in data.files else {}
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported model format version {meta.get('format_version')!r}")
    return arrays, meta


def save_gmm(path: str | Path | IO[bytes], gmm: DiagGMM, meta: dict[str, Any]) -> None:
    save_arrays(
        path,
        {
            "weights": gmm.weights.astype(np.float32),
            "means": gmm.means.astype(np.float32),
            "variances": gmm.variances.astype(np.float32),
        },
        meta,
    )


def load_gmm(path: str | Path | IO[bytes]) -> tuple[DiagGMM, dict[str, Any]]:
    arrays, meta = load_arrays(path)
    gmm = DiagGMM(
        arrays["weights"].astype(np.float64),
        arrays["means"].astype(np.float64),
        arrays["variances"].astype(np.float64),
    )
    gmm = DiagGMM(gmm.weights / gmm.weights.sum(), gmm.means, gmm.variances)
    return gmm, meta


def save_speaker_model(path: str | Path | IO[bytes], model: SpeakerModel, meta: dict[str, Any]) -> None:
    """Per-digit statistics as float32 (n (10, C), f (10, C, D)) + take counts; ``meta`` should name the UBM."""
    save_arrays(
        path,
        {"n": model.n.astype(np.float32), "f": model.f.astype(np.float32), "takes": model.takes.astype(np.int32)},
        meta,
    )


def load_speaker_model(path: str | Path | IO[bytes]) -> tuple[SpeakerModel, dict[str, Any]]:
    arrays, meta = load_arrays(path)
    model = SpeakerModel(
        arrays["n"].astype(np.float64), arrays["f"].astype(np.float64), arrays["takes"].astype(np.int64)
    )
    return model, meta
