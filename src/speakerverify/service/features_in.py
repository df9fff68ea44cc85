"""Turning a feature payload (JSON numbers or base64 arrays) into validated arrays."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..features import FeatureConfig
from .problems import ProblemError
from .schemas import FeatureArrays, UtteranceIn, VerificationIn
from .settings import VoicePolicy


@dataclass(frozen=True)
class DigitFrames:
    """One spoken digit as validated arrays, whatever the wire form: mfcc (T, n_mfcc), energy (T,) float32."""

    digit: int
    mfcc: np.ndarray
    energy: np.ndarray


def _invalid(field: list[Any], message: str) -> ProblemError:
    pointer = "#/" + "/".join(str(p) for p in field)
    return ProblemError(
        422,
        f"{pointer}: {message}",
        slug="invalid-features",
        title="Invalid features",
        errors=[{"detail": message, "pointer": pointer}],
    )


def _from_b64(text: str, dtype: str, field: list[Any]) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, "not valid base64") from None
    item = np.dtype("<f2" if dtype == "float16" else "<f4")
    if len(raw) % item.itemsize:
        raise _invalid(field, f"{len(raw)} bytes is not a whole number of {dtype} values")
    return np.frombuffer(raw, dtype=item).astype(np.float32)


def decode_features(
    payload: FeatureArrays, config: FeatureConfig, policy: VoicePolicy, where: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(mfcc (T, n_mfcc) float32, energy (T,) float32), or a 422 problem naming the field and the fault."""
    json_form = payload.mfcc is not None or payload.energy is not None
    b64_form = payload.mfcc_b64 is not None or payload.energy_b64 is not None
    if json_form == b64_form:
        raise _invalid(where, "send either mfcc and energy, or mfcc_b64 and energy_b64")
    if json_form:
        if payload.mfcc is None or payload.energy is None:
            raise _invalid(where, "mfcc and energy are both required")
        bad = next((i for i, row in enumerate(payload.mfcc) if len(row) != config.n_mfcc), None)
        if bad is not None:
            raise _invalid([*where, "mfcc", bad], f"each frame needs {config.n_mfcc} coefficients")
        mfcc = np.array(payload.mfcc, dtype=np.float64).reshape(-1, config.n_mfcc)
        energy = np.array(payload.energy, dtype=np.float64)
    else:
        if payload.mfcc_b64 is None or payload.energy_b64 is None:
            raise _invalid(where, "mfcc_b64 and energy_b64 are both required")
        flat = _from_b64(payload.mfcc_b64, payload.dtype, [*where, "mfcc_b64"])
        energy = _from_b64(payload.energy_b64, "float32", [*where, "energy_b64"]).astype(np.float64)
        if len(flat) != len(energy) * config.n_mfcc:
            raise _invalid(where, f"mfcc_b64 holds {len(flat)} values, expected {len(energy)} frames x {config.n_mfcc}")
        mfcc = flat.astype(np.float64).reshape(-1, config.n_mfcc)
    if len(mfcc) != len(energy):
        raise _invalid(where, f"mfcc has {len(mfcc)} frames but energy has {len(energy)}")
    if not policy.min_frames <= len(energy) <= policy.max_frames:
        raise _invalid(where, f"{len(energy)} frames; between {policy.min_frames} and {policy.max_frames} are accepted")
    if not (np.all(np.isfinite(mfcc)) and np.all(np.isfinite(energy))):
        raise _invalid(where, "values must be finite numbers (no NaN or Infinity)")
    if np.any(energy < 0):
        raise _invalid([*where, "energy"], "energy cannot be negative")
    # float32 is what is stored; values beyond its range would become infinities.
    if np.abs(mfcc).max() > 1e30 or energy.max() > 1e30:
        raise _invalid(where, "values out of range")
    return mfcc.astype(np.float32), energy.astype(np.float32)


def check_config_id(config_id: str | None, config: FeatureConfig) -> None:
    if config_id is not None and config_id != config.config_id:
        raise ProblemError(
            422,
            f"features were computed with {config_id!r}; this service needs {config.config_id!r} "
            "(GET /api/v1/feature-config)",
            slug="wrong-feature-config",
            title="Wrong feature configuration",
            errors=[{"detail": f"expected {config.config_id}", "pointer": "#/config_id"}],
        )


def utterance_from_json(body: UtteranceIn, config: FeatureConfig, policy: VoicePolicy) -> DigitFrames:
    check_config_id(body.config_id, config)
    return DigitFrames(body.digit, *decode_features(body, config, policy, []))


def segments_from_json(body: VerificationIn, config: FeatureConfig, policy: VoicePolicy) -> list[DigitFrames]:
    check_config_id(body.config_id, config)
    return [
        DigitFrames(seg.digit, *decode_features(seg, config, policy, ["segments", i]))
        for i, seg in enumerate(body.segments)
    ]
