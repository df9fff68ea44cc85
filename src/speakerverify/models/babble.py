"""Babble for the noisy copies: a few people talking at once, as mel band powers drawn from a shipped model.

Stationary copies (white, pink, the take's own spectrum) do not teach a speaker model what babble does:
its spectrum changes from frame to frame, with speech's slow envelope. The shipped model
(``data/babble-model.npz``, ``scripts/build_babble_model.py``) holds only parameters estimated from
6-talker mixes of speechocean762 speakers, in Meyda's log-mel domain ``ln(1 + E)`` (23 bands):

* ``mean`` (N,): each band's mean;
* ``rho`` (N,): each band's correlation with itself one frame (10 ms) before;
* ``innovation_chol`` (N, N): Cholesky factor of the covariance of what the AR(1) step does not predict;
* ``stationary_chol`` (N, N): Cholesky factor of the bands' covariance (the first frame);
* ``energy_per_band_power``: the mixes' mean frame energy over their mean summed band power (the energy
  also holds DC and the bins above the last band).

A draw is a first-order autoregressive sequence around the mean, so it has babble's spectral shape, its
frame-to-frame spread and its 10 ms correlation (0.8-0.96 a band); no audio, and no frame of it, ships.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .io import load_arrays

BABBLE_MODEL_FILE = "babble-model.npz"


@dataclass(frozen=True)
class BabbleModel:
    mean: np.ndarray  # (N,)
    rho: np.ndarray  # (N,)
    innovation_chol: np.ndarray  # (N, N)
    stationary_chol: np.ndarray  # (N, N)
    energy_per_band_power: float


def estimate(log_mel_frames: np.ndarray, energy: np.ndarray) -> BabbleModel:
    """The model of babble frames: log-mel ``ln(1 + E)`` (F, N) and their frame energies (F,), F >= 2N."""
    z = log_mel_frames - log_mel_frames.mean(axis=0)
    rho = (z[1:] * z[:-1]).mean(axis=0) / z.var(axis=0)
    innovation = z[1:] - rho * z[:-1]
    ridge = 1e-9 * np.eye(z.shape[1])
    return BabbleModel(
        log_mel_frames.mean(axis=0),
        rho,
        np.linalg.cholesky(np.cov(innovation.T) + ridge),
        np.linalg.cholesky(np.cov(z.T) + ridge),
        float(energy.mean() / np.expm1(log_mel_frames).sum(axis=1).mean()),
    )


def as_arrays(model: BabbleModel) -> dict[str, np.ndarray]:
    return {f.name: np.asarray(getattr(model, f.name)) for f in fields(model)}


@lru_cache(maxsize=1)
def shipped_model() -> BabbleModel:
    with resources.files("speakerverify.data").joinpath(BABBLE_MODEL_FILE).open("rb") as fh:
        arrays, _ = load_arrays(fh)
    values: dict[str, Any] = {f.name: arrays[f.name] for f in fields(BabbleModel)}
    return BabbleModel(**{**values, "energy_per_band_power": float(values["energy_per_band_power"])})


def draw(model: BabbleModel, frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` frames of babble: band powers E (T, N) and frame energies (T,), both scaled so the frame
    energies average 1."""
    n = len(model.mean)
    z = np.empty((frames, n))
    if frames:
        z[0] = model.stationary_chol @ rng.standard_normal(n)
    shocks = rng.standard_normal((frames, n)) @ model.innovation_chol.T
    for t in range(1, frames):  # an AR(1) recursion: each frame needs the one before
        z[t] = model.rho * z[t - 1] + shocks[t]
    bands = np.expm1(np.maximum(model.mean + z, 0.0))
    energy = bands.sum(axis=1) * model.energy_per_band_power
    scale = 1.0 / max(float(energy.mean()), 1e-300) if frames else 1.0
    return bands * scale, energy * scale
