"""Crafted feature segments: what an attacker who sends features instead of audio can send.

Each builder takes a real take's raw frames (mfcc (T, 13), energy (T,)) where it needs one, and
a seeded generator, and returns a crafted (mfcc (T', 13), energy (T',)) pair in raw Meyda units.
They feed ``benchmarks/plausibility.py`` and ``tests/features/test_plausibility.py``; every
class must be refused by ``features.plausibility.check``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from speakerverify.features.postprocess import DEFAULT_POST, deltas, speech_mask

Frames = tuple[np.ndarray, np.ndarray]
RAMP_SLOPES = (0.01, 0.1, 1.0, 10.0, 100.0, 600.0)  # per frame; 100 frames at 600 reach 6e4


def ramp(real: Frames, rng: np.random.Generator, slope: float | None = None) -> Frames:
    """Every coefficient a straight line in time from a real frame, random signs; real energy."""
    mfcc, energy = real
    slope = float(rng.choice(RAMP_SLOPES)) if slope is None else slope
    t = np.arange(len(mfcc))[:, None]
    signs = rng.choice([-1.0, 1.0], size=mfcc.shape[1])
    return mfcc[len(mfcc) // 2] + slope * signs * t, energy.copy()


def constant(real: Frames, rng: np.random.Generator) -> Frames:
    """One real frame repeated, with its energy."""
    mfcc, energy = real
    t = int(rng.integers(len(mfcc)))
    return np.repeat(mfcc[t : t + 1], len(mfcc), axis=0), np.full(len(mfcc), energy[t])


def extreme(real: Frames, rng: np.random.Generator) -> Frames:
    """Values far beyond any audio: 1e25 or 1e6 in MFCCs or energies."""
    mfcc, energy = real[0].copy(), real[1].copy()
    value = float(rng.choice([1e25, 1e6, -1e6]))
    if rng.random() < 0.5:
        mfcc[:, int(rng.integers(mfcc.shape[1]))] = value
    else:
        energy[:] = abs(value)
    return mfcc, energy


def null(real: Frames, rng: np.random.Generator) -> Frames:
    """Segments whose post-processed frames are all zero: real + 1e25 (float32 swallows the real part),
    zero MFCCs with real energies, or digital silence (all zero)."""
    mfcc, energy = real
    kind = int(rng.integers(3))
    if kind == 0:
        return (mfcc.astype(np.float32) + np.float32(1e25)).astype(np.float64), energy.copy()
    if kind == 1:
        return np.zeros_like(mfcc), energy.copy()
    return np.zeros_like(mfcc), np.zeros_like(energy)


def gaussian(real: Frames, rng: np.random.Generator) -> Frames:
    """Independent Gaussian frames with the real take's per-coefficient mean and spread; real energy."""
    mfcc, energy = real
    return rng.normal(mfcc.mean(axis=0), mfcc.std(axis=0) + 1e-3, size=mfcc.shape), energy.copy()


def scaled_x3(real: Frames, rng: np.random.Generator) -> Frames:
    """A real take with one coefficient (random k) multiplied by 3."""
    mfcc = real[0].copy()
    mfcc[:, int(rng.integers(mfcc.shape[1]))] *= 3
    return mfcc, real[1].copy()


def shuffled(real: Frames, rng: np.random.Generator) -> Frames:
    """A real take's frames (with their energies) in a random order."""
    order = rng.permutation(len(real[1]))
    return real[0][order], real[1][order]


def energy_swap(real: Frames, rng: np.random.Generator, other: Frames) -> Frames:
    """A real take's MFCCs with another take's energies (tiled or cut to the length)."""
    n = len(real[1])
    return real[0].copy(), np.resize(other[1], n)


def _component_runs(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A component per frame, in runs of 3-8 frames (like phones), drawn by the mixture weights. (n,) int"""
    out = np.empty(n, dtype=np.int64)
    t = 0
    while t < n:
        run = int(rng.integers(3, 9))
        out[t : t + run] = rng.choice(len(weights), p=weights / weights.sum())
        t += run
    return out


def ubm_means(real: Frames, rng: np.random.Generator, means: np.ndarray, weights: np.ndarray) -> Frames:
    """Each frame's c1-c12 a UBM component mean's statics plus the real take's mean cepstrum
    (which CMN removes again); c0 and energies real. ``means`` (C, 36), ``weights`` (C,)."""
    mfcc, energy = real
    comp = _component_runs(weights, len(mfcc), rng)
    n_static = mfcc.shape[1] - 1
    out = mfcc.copy()
    out[:, 1:] = means[comp, :n_static] + mfcc[:, 1:].mean(axis=0)
    return out, energy.copy()


def ubm_means_lsq(real: Frames, rng: np.random.Generator, means: np.ndarray, weights: np.ndarray) -> Frames:
    """Cepstra whose post-processed frames (statics after CMN, deltas, delta-deltas) are as close as
    least squares allows to a sequence of UBM means; c0 and energies real, the real mean cepstrum added."""
    mfcc, energy = real
    n, n_static = len(mfcc), mfcc.shape[1] - 1
    comp = _component_runs(weights, n, rng)
    mask = speech_mask(energy, DEFAULT_POST.dynamic_range_db)
    d1 = deltas(np.eye(n), DEFAULT_POST.delta_window)  # deltas(X) = d1 @ X: the operator is linear in time
    d2 = d1 @ d1
    centre = np.eye(n)[mask] - np.eye(n)[mask].mean(axis=0)  # CMN over the speech frames
    system = np.vstack([centre, d1[mask], d2[mask]])
    target = np.vstack([means[comp[mask], k * n_static : (k + 1) * n_static] for k in range(3)])
    statics = np.linalg.lstsq(system, target, rcond=None)[0]
    out = mfcc.copy()
    out[:, 1:] = statics + mfcc[:, 1:].mean(axis=0)
    return out, energy.copy()


def attack_builders(means: np.ndarray, weights: np.ndarray) -> dict[str, Callable[..., Frames]]:
    """Every class by name: builder(real, rng, other) -> (mfcc, energy); ``other`` another real take."""
    return {
        "ramp": lambda r, g, o: ramp(r, g),
        "constant": lambda r, g, o: constant(r, g),
        "ubm_means": lambda r, g, o: ubm_means(r, g, means, weights),
        "ubm_means_lsq": lambda r, g, o: ubm_means_lsq(r, g, means, weights),
        "extreme": lambda r, g, o: extreme(r, g),
        "null": lambda r, g, o: null(r, g),
        "gaussian": lambda r, g, o: gaussian(r, g),
        "scaled_x3": lambda r, g, o: scaled_x3(r, g),
        "shuffled": lambda r, g, o: shuffled(r, g),
        "energy_swap": lambda r, g, o: energy_swap(r, g, o),
    }
