"""Edits an attacker can make to their own raw Meyda frames before sending them (no knowledge of the target).

Shared by the attack benchmarks (``benchmarks/snr_claim.py``, ``flattened_cepstra.py``, ``babble_claim.py``)
and the attack tests, so the suite guards the attack the benchmark reports.
"""

from __future__ import annotations

import numpy as np

from ..features.cepstra import log_mel, mfcc_of
from ..features.postprocess import DEFAULT_POST, moving_average, speech_mask
from ..models.noisy_copies import noise_bands


def claimed_noise(energy: np.ndarray, snr_db: float) -> np.ndarray:
    """Frame energies (T,) with a constant floor added so the take measures at ``snr_db`` (the floor is
    ``mean(energy) / 10^(snr/10)``, what noise at that SNR adds), the MFCCs left as recorded. float32"""
    energy = np.asarray(energy, dtype=np.float64)
    return (energy + float(np.mean(energy)) / 10 ** (snr_db / 10)).astype(np.float32)


def claimed_noise_in_bands(
    mfcc: np.ndarray, energy: np.ndarray, snr_db: float, pauses_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``claimed_noise``, with the claimed floor also put in the mel bands: every frame's log-mel (from its
    MFCCs) gets white noise's expected band powers at that floor, ln(e^L + n_j), and the MFCCs are
    recomputed (the copy construction without its randomness). ``pauses_only``: only in the frames outside
    the speech mask, the speech frames' MFCCs as recorded, so the scored frames show no noise at all.
    Returns (mfcc (T, 13), energy (T,)), float32."""
    mfcc = np.asarray(mfcc, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    floor = float(np.mean(energy)) / 10 ** (snr_db / 10)
    mel = log_mel(mfcc)
    noisy = mfcc_of(np.log(np.exp(mel) + noise_bands("white")[0] * floor), mfcc.shape[1])
    if pauses_only:
        pauses = ~speech_mask(energy, DEFAULT_POST.dynamic_range_db)
        noisy = np.where(pauses[:, None], noisy, mfcc)
    return noisy.astype(np.float32), claimed_noise(energy, snr_db)


def flattened(mfcc: np.ndarray, factor: float) -> np.ndarray:
    """Raw MFCC frames (T, 13) with c1-c12's deviation from the take's mean scaled by ``factor`` (c0 as
    recorded): what a spectrally flattening edit does to the cepstra. float32"""
    m = np.asarray(mfcc, np.float64).copy()
    mean = m[:, 1:].mean(axis=0)
    m[:, 1:] = mean + factor * (m[:, 1:] - mean)
    return m.astype(np.float32)


def scaled(mfcc: np.ndarray, factor: float) -> np.ndarray:
    """Raw MFCC frames (T, 13) with c1-c12 scaled towards zero by ``factor``, the take's mean with them (c0 as
    recorded): a flatter spectral envelope throughout, where ``flattened`` keeps the take's mean shape. float32"""
    m = np.asarray(mfcc, np.float64).copy()
    m[:, 1:] *= factor
    return m.astype(np.float32)


def smoothed(mfcc: np.ndarray, frames: int) -> np.ndarray:
    """Raw MFCC frames (T, 13) with c1-c12 replaced by their moving average over ``frames`` frames (an odd
    count; the ends repeated), c0 as recorded: a slower time course with the take's mean kept. float32"""
    m = np.asarray(mfcc, np.float64).copy()
    m[:, 1:] = moving_average(m[:, 1:], frames)
    return m.astype(np.float32)


def jittered(mfcc: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Raw MFCC frames (T, 13) with Gaussian noise of ``scale`` times each coefficient's standard deviation
    added to c1-c12 (c0 as recorded): restores the frame-to-frame roughness a smoothing edit took away.
    float32"""
    m = np.asarray(mfcc, np.float64).copy()
    m[:, 1:] += rng.normal(size=m[:, 1:].shape) * (scale * m[:, 1:].std(axis=0))
    return m.astype(np.float32)
