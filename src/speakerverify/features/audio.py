"""Reading audio files into mono float signals at the feature sample rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .config import DEFAULT_CONFIG, FeatureConfig


class AudioError(ValueError):
    """A file that cannot be used as speech; the message names the file and the problem."""


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of a 1-D signal; identity when the rates match."""
    if rate_in == rate_out:
        return samples
    ratio = Fraction(rate_out, rate_in)
    return resample_poly(samples, ratio.numerator, ratio.denominator)


def read_audio(path: str | Path, config: FeatureConfig = DEFAULT_CONFIG, min_seconds: float = 0.1) -> np.ndarray:
    """Read WAV/FLAC, mix down to mono, resample to ``config.sample_rate``.

    Returns
    -------
    (n,) float64 samples in [-1, 1).

    Raises
    ------
    AudioError
        If the file is missing, corrupt, empty, silent or shorter than ``min_seconds``.
    """
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})") from None
    if data.size == 0:
        raise AudioError(f"{path}: the file holds no samples")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{path}: the file holds non-finite samples")
    if len(mono) < min_seconds * rate:
        raise AudioError(f"{path}: {len(mono) / rate:.3f} s is too short (need at least {min_seconds} s)")
    # Below one int16 step everywhere: nothing a microphone would record.
    if np.max(np.abs(mono)) < 1.0 / 32768:
        raise AudioError(f"{path}: the file is silent")
    return resample(mono, rate, config.sample_rate)
