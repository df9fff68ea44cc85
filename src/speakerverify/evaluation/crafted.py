"""Edits an attacker can make to their own raw Meyda frames before sending them (no knowledge of the target).

Shared by the attack benchmarks (``benchmarks/snr_claim.py``, ``flattened_cepstra.py``, ``babble_claim.py``)
and the attack tests, so the suite guards the attack the benchmark reports.
"""

from __future__ import annotations

import numpy as np


def claimed_noise(energy: np.ndarray, snr_db: float) -> np.ndarray:
    """Frame energies (T,) with a constant floor added so the take measures at ``snr_db`` (the floor is
    ``mean(energy) / 10^(snr/10)``, what noise at that SNR adds), the MFCCs left as recorded. float32"""
    energy = np.asarray(energy, dtype=np.float64)
    return (energy + float(np.mean(energy)) / 10 ** (snr_db / 10)).astype(np.float32)


def flattened(mfcc: np.ndarray, factor: float) -> np.ndarray:
    """Raw MFCC frames (T, 13) with c1-c12's deviation from the take's mean scaled by ``factor`` (c0 as
    recorded): what a spectrally flattening edit does to the cepstra. float32"""
    m = np.asarray(mfcc, np.float64).copy()
    mean = m[:, 1:].mean(axis=0)
    m[:, 1:] = mean + factor * (m[:, 1:] - mean)
    return m.astype(np.float32)
