"""Server-side post-processing of raw Meyda frames into model features.

Applied identically whatever produced the frames (a WAV on the server or a
browser), so only the raw Meyda output ever crosses the network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from .cepstra import log_mel, mfcc_of
from .quality import quiet_frames


@dataclass(frozen=True)
class PostConfig:
    """Choices measured by ``speakerverify eval`` (see BENCHMARKS.md).

    Attributes
    ----------
    post_id : str
        Stored with models so statistics from different choices never mix.
    dynamic_range_db : float
        Keep frames whose energy is within this many dB of the utterance peak.
    drop_c0 : bool
        Drop the first cepstral coefficient (overall log level: gain, not voice).
    cmn, cvn : bool
        Per-utterance cepstral mean / variance normalisation over the kept frames.
    delta_order : int
        0 = statics only, 1 = + deltas, 2 = + delta-deltas.
    delta_window : int
        Half-width N of the regression window for deltas.
    subtraction : float
        Spectral subtraction before anything else (0 = off): the utterance's quiet frames
        (``quality.quiet_frames``) give each mel band's noise power, and ``subtraction`` times that is taken from
        every frame's band power (approximated back from the 13 MFCCs, ``cepstra.log_mel``), floored at
        ``subtraction_floor`` times the frame's own band power.
    subtraction_floor : float
        The spectral floor, as a fraction of the band power before subtraction.
    smooth_frames : int
        A moving average of the statics over this many frames (odd; 1 = off), before the deltas: a slower
        time course for every frame set alike (takes, copies, answers, the UBM's data), so that smoothing a
        client does before sending buys less. Off: it raised the clean EER (``benchmarks/noise_features.py --study
        smoothing``, BENCHMARKS.md).
    warp : bool
        Feature warping (Pelecanos and Sridharan, 2001) instead of CMN/CVN: each static coefficient's kept
        frames mapped by rank to standard-normal quantiles, so noise that shrinks a coefficient's spread
        does not shrink it in the features. Over one utterance (a digit is 0.3-0.7 s), not a 3 s window.
    """

    post_id: str = "c1-12-d-dd-30db-cmn-v1"
    dynamic_range_db: float = 30.0
    drop_c0: bool = True
    cmn: bool = True
    cvn: bool = False
    delta_order: int = 2
    delta_window: int = 2
    warp: bool = False
    subtraction: float = 0.0
    subtraction_floor: float = 0.1
    smooth_frames: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def n_static(self) -> int:
        return 12 if self.drop_c0 else 13

    def dim(self, n_mfcc: int = 13) -> int:
        return (n_mfcc - int(self.drop_c0)) * (1 + self.delta_order)


DEFAULT_POST = PostConfig()


def deltas(x: np.ndarray, window: int = 2) -> np.ndarray:
    """Regression deltas along time, edges repeated. (T, D) -> (T, D)."""
    if len(x) == 0:
        return x.copy()
    padded = np.pad(x, ((window, window), (0, 0)), mode="edge")
    t = len(x)
    num = sum(
        n * (padded[window + n : window + n + t] - padded[window - n : window - n + t]) for n in range(1, window + 1)
    )
    return num / (2 * sum(n * n for n in range(1, window + 1)))


def speech_mask(energy: np.ndarray, dynamic_range_db: float) -> np.ndarray:
    """Frames within ``dynamic_range_db`` of the loudest frame; all-False for a silent input. (T,) bool."""
    energy = np.asarray(energy, dtype=np.float64)
    if len(energy) == 0 or not np.any(energy > 0):
        return np.zeros(len(energy), dtype=bool)
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(energy)
    return level >= level.max() - dynamic_range_db


def warped(x: np.ndarray) -> np.ndarray:
    """Each column of (T, D) replaced by the standard-normal quantiles of its values' ranks (ties share
    their mean rank). (T, D) -> (T, D) float64."""
    ranks = rankdata(x, axis=0)
    return ndtri((ranks - 0.5) / len(x))


def subtracted(mfcc: np.ndarray, energy: np.ndarray, alpha: float, floor: float) -> np.ndarray:
    """Raw MFCC frames (T, K) with ``alpha`` times the quiet frames' mel-band noise taken out of each
    frame's band power, no band below ``floor`` of its own power. Only the change in log-mel goes back
    through the DCT, so what the minimum-norm inverse cannot represent is kept as it was. (T, K) float64."""
    if len(mfcc) == 0:
        return mfcc
    mel = log_mel(mfcc)  # (T, N) ln(1 + E)
    power = np.expm1(mel)
    noise = power[quiet_frames(energy)].mean(axis=0)  # (N,)
    cleaned = np.maximum(power - alpha * noise, floor * power)
    return mfcc + mfcc_of(np.log1p(cleaned) - mel, mfcc.shape[1])


def moving_average(x: np.ndarray, frames: int) -> np.ndarray:
    """Each row of (T, D) replaced by the mean of the ``frames`` rows centred on it (an odd count; the ends
    repeated). (T, D) -> (T, D) float64."""
    if frames < 1 or frames % 2 == 0:
        raise ValueError(f"smoothing needs a positive odd number of frames, got {frames}")
    if frames == 1 or len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    half = frames // 2
    padded = np.pad(np.asarray(x, dtype=np.float64), ((half, half), (0, 0)), mode="edge")
    sums = np.cumsum(np.vstack([np.zeros((1, padded.shape[1])), padded]), axis=0)
    return (sums[frames:] - sums[:-frames]) / frames


def postprocess(mfcc: np.ndarray, energy: np.ndarray, post: PostConfig = DEFAULT_POST) -> np.ndarray:
    """Model features of one utterance.

    Parameters
    ----------
    mfcc : (T, 13) raw Meyda MFCC frames
    energy : (T,) raw Meyda energy

    Returns
    -------
    (T', post.dim()) float32, T' = number of speech frames (may be 0).
    """
    mfcc = np.asarray(mfcc, dtype=np.float64)
    if post.subtraction > 0:
        mfcc = subtracted(mfcc, np.asarray(energy, dtype=np.float64), post.subtraction, post.subtraction_floor)
    statics = mfcc[:, 1:] if post.drop_c0 else mfcc
    if post.smooth_frames != 1:
        statics = moving_average(statics, post.smooth_frames)
    parts = [statics]
    for _ in range(post.delta_order):
        parts.append(deltas(parts[-1], post.delta_window))
    mask = speech_mask(energy, post.dynamic_range_db)
    feats = np.concatenate(parts, axis=1)[mask]
    n = statics.shape[1]
    if len(feats) and post.warp:
        feats[:, :n] = warped(feats[:, :n])
    elif len(feats) and post.cmn:
        feats[:, :n] -= feats[:, :n].mean(axis=0)
        if post.cvn and len(feats) > 1:
            feats[:, :n] /= feats[:, :n].std(axis=0) + 1e-8
    return feats.astype(np.float32)
