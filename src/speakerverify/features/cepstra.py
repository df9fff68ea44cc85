"""Meyda's cepstra and the log-mel energies behind them: the DCT as a matrix and its minimum-norm inverse.

The server receives MFCCs only; what noise does to a voice happens in the mel bands, so the noisy copies
(``models.noisy_copies``) and the SNR measured on the bands (``features.quality``) both go back to log-mel
through the same inverse.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import DEFAULT_CONFIG, FeatureConfig


@lru_cache(maxsize=4)
def dct_rows(n_mfcc: int, n_mel: int) -> np.ndarray:
    """Meyda's unnormalised DCT-II as a matrix: mfcc = mel @ (2 C).T, C[k, n] = cos(pi k (2n + 1) / 2N). (K, N)"""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mel)[None, :]
    rows = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mel))
    rows.setflags(write=False)
    return rows


@lru_cache(maxsize=4)
def _inverse(n_mfcc: int, n_mel: int) -> np.ndarray:
    """Minimum-norm inverse of ``2 C``: log-mel (N,) from mfcc (K,) as ``inv @ c``. (N, K)"""
    inv = np.linalg.pinv(2 * dct_rows(n_mfcc, n_mel))
    inv.setflags(write=False)
    return inv


def log_mel(mfcc: np.ndarray, config: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Approximate log-mel energies ln(1 + E) (T, mel_bands) of MFCC frames (T, n_mfcc); >= 0 like Meyda's."""
    mfcc = np.asarray(mfcc, dtype=np.float64)
    return np.maximum(0.0, mfcc @ _inverse(mfcc.shape[1], config.mel_bands).T)


def mfcc_of(log_mel_frames: np.ndarray, n_mfcc: int) -> np.ndarray:
    """Meyda's MFCC (T, n_mfcc) of log-mel frames (T, N)."""
    return log_mel_frames @ (2 * dct_rows(n_mfcc, log_mel_frames.shape[1])).T
