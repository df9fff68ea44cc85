"""Meyda 5 MFCC and energy, reproduced in numpy.

Mirrors ``Meyda.extract(["mfcc", "energy"], frame)`` (meyda@5.6.3) including its
float32 storage of the window, the amplitude spectrum and the mel edges, so
the browser and the server produce the same numbers for the same samples.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct

from .config import DEFAULT_CONFIG, FeatureConfig


def hamming_window(n: int) -> np.ndarray:
    """Meyda's (periodic) Hamming window, stored as float32 like Meyda does. Shape (n,)."""
    i = np.arange(n, dtype=np.float64)
    return (0.54 - 0.46 * np.cos(2 * np.pi * (i / n - 1))).astype(np.float32)


def _freq_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 1125.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_freq(m: np.ndarray) -> np.ndarray:
    return 700.0 * (np.exp(np.asarray(m, dtype=np.float64) / 1125.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(n_filters: int, sample_rate: int, frame_size: int) -> np.ndarray:
    """Meyda's triangular mel filterbank, shape (n_filters, frame_size // 2).

    Edges are equally spaced in mel from 0 Hz to Nyquist and snapped to bin
    ``floor((N + 1) f / sr)``; Meyda keeps the mel and Hz edges in Float32Arrays,
    and the float32 rounding can move an edge across a bin boundary, so it is
    reproduced. Peaks are 1, no area normalisation.
    """
    mel_step = (_freq_to_mel(sample_rate / 2) - _freq_to_mel(0.0)) / (n_filters + 1)
    mel_edges = (np.arange(n_filters + 2) * mel_step).astype(np.float32)
    hz_edges = _mel_to_freq(mel_edges).astype(np.float32).astype(np.float64)
    bins = np.floor((frame_size + 1) * hz_edges / sample_rate).astype(int)
    k = np.arange(frame_size // 2)
    bank = np.zeros((n_filters, frame_size // 2))
    for j in range(n_filters):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        rising = (k >= lo) & (k < mid)
        falling = (k >= mid) & (k < hi)
        if mid > lo:
            bank[j, rising] = (k[rising] - lo) / (mid - lo)
        if hi > mid:
            bank[j, falling] = (hi - k[falling]) / (hi - mid)
    bank.setflags(write=False)
    return bank


def frame_signal(samples: np.ndarray, frame_size: int, hop_size: int) -> np.ndarray:
    """Full frames only: frame i is ``samples[i*hop : i*hop + frame_size]``. Shape (T, frame_size)."""
    n = len(samples)
    if n < frame_size:
        return np.zeros((0, frame_size), dtype=samples.dtype)
    count = 1 + (n - frame_size) // hop_size
    return np.lib.stride_tricks.sliding_window_view(samples, frame_size)[::hop_size][:count]


def extract_frames(frames: np.ndarray, config: FeatureConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray]:
    """MFCC and energy of already-scaled frames, exactly as ``Meyda.extract``.

    Parameters
    ----------
    frames : (T, frame_size) array
        Samples already multiplied by ``config.input_scale``.

    Returns
    -------
    mfcc : (T, n_mfcc) float64
    energy : (T,) float64, sum of squared windowed samples.
    """
    frames = np.asarray(frames, dtype=np.float32).astype(np.float64)
    windowed = frames * hamming_window(config.frame_size).astype(np.float64)
    energy = np.sum(windowed**2, axis=1)
    spectrum = np.fft.rfft(windowed, axis=1)[:, : config.frame_size // 2]
    amplitude = np.abs(spectrum).astype(np.float32).astype(np.float64)
    power = (amplitude**2).astype(np.float32).astype(np.float64)
    bank = mel_filterbank(max(config.mel_bands, config.n_mfcc), config.sample_rate, config.frame_size)
    band_energy = (power @ bank.T).astype(np.float32).astype(np.float64)
    mel = np.log1p(band_energy).astype(np.float32).astype(np.float64)
    mfcc = dct(mel, type=2, norm=None, axis=1)[:, : config.n_mfcc]
    return mfcc, energy


def extract(samples: np.ndarray, config: FeatureConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray]:
    """Meyda-equivalent features of a mono signal at ``config.sample_rate``.

    Parameters
    ----------
    samples : (n,) float array in [-1, 1)

    Returns
    -------
    mfcc : (T, n_mfcc) float64, energy : (T,) float64, with
    ``T = 1 + (n - frame_size) // hop_size`` (0 if the signal is shorter than a frame).
    """
    scaled = np.asarray(samples, dtype=np.float64) * config.input_scale
    return extract_frames(frame_signal(scaled, config.frame_size, config.hop_size), config)
