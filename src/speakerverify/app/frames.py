"""The use cases' feature input: one spoken digit as validated arrays, whatever the wire form was.

The HTTP layer decodes JSON numbers, base64 arrays or the binary form into arrays; every form then
passes ``check_frames``, the one set of range checks, before any use case sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import VoicePolicy
from ..features import FeatureConfig
from .errors import InvalidInput, WrongFeatureConfig


@dataclass(frozen=True)
class DigitFrames:
    """One spoken digit: mfcc (T, n_mfcc), energy (T,) float32, raw Meyda frames at int16 scale."""

    digit: int
    mfcc: np.ndarray
    energy: np.ndarray


def pointer(path: list[Any]) -> str:
    return "#/" + "/".join(str(p) for p in path)


def check_frames(
    mfcc: np.ndarray, energy: np.ndarray, policy: VoicePolicy, where: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The checks every form shares: mfcc (T, n_mfcc), energy (T,) -> the same as float32, or InvalidInput.

    T within the policy's frame limits, finite values, non-negative energies, nothing beyond float32.
    """
    if len(mfcc) != len(energy):
        raise InvalidInput(f"mfcc has {len(mfcc)} frames but energy has {len(energy)}", pointer(where))
    if not policy.min_frames <= len(energy) <= policy.max_frames:
        raise InvalidInput(
            f"{len(energy)} frames; between {policy.min_frames} and {policy.max_frames} are accepted", pointer(where)
        )
    if not (np.all(np.isfinite(mfcc)) and np.all(np.isfinite(energy))):
        raise InvalidInput("values must be finite numbers (no NaN or Infinity)", pointer(where))
    if np.any(energy < 0):
        raise InvalidInput("energy cannot be negative", pointer([*where, "energy"]))
    # float32 is what is stored; values beyond its range would become infinities.
    if np.abs(mfcc).max() > 1e30 or energy.max() > 1e30:
        raise InvalidInput("values out of range", pointer(where))
    return mfcc.astype(np.float32), energy.astype(np.float32)


def check_config_id(config_id: str | None, config: FeatureConfig) -> None:
    if config_id is not None and config_id != config.config_id:
        raise WrongFeatureConfig(config_id, config.config_id)
