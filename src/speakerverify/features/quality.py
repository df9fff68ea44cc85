"""An answer's quality from its raw frames: SNR and speech length.

The noise level is what the quietest frames hold (in an utterance the pauses and edges carry the noise
alone); the signal is the rest of the mean frame energy. The SNR is defined as ``evaluation.noise.mix``
and ``models.noisy_copies`` define it: the mean signal power of the whole utterance over the noise power,
so a measured answer can be matched by copies made at the same SNR.

Both the energies and the MFCCs come from the client. Noise claimed in the energies alone (a constant
added to every frame's energy, the MFCCs as recorded) would buy a noisy operating point for free, and is
physically possible (DC and the bins above the last mel band reach the energy but no mel band), so it
cannot be refused. Instead, given the MFCCs, the SNR is also measured on the power the mel bands show
(``band_power``) and an answer is judged at the cleaner of the two, less ``BAND_SNR_MARGIN_DB``: real noise
is in the bands, so for it the two agree (FSDD development takes in white, pink and babble at 5-20 dB:
band SNR minus energy SNR within -1.5 and +2.5 dB for 90% of takes; SECURITY.md "Noise claimed in the energies alone").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .cepstra import log_mel
from .config import DEFAULT_CONFIG, FeatureConfig

QUIET_FRACTION = 0.1
"""The share of frames, the quietest, taken to hold noise alone."""
SPEECH_ABOVE_NOISE_DB = 6.0
"""A frame counts as speech when its energy is this far above the noise level."""
MAX_SNR_DB = 60.0
"""Reported for digital silence between words, where the quiet frames hold nothing at all."""
BAND_SNR_MARGIN_DB = 3.0
"""How far the SNR the mel bands show may lie above the energies' before it is the one used: above real
noise's spread between the two (at most 2.5 dB at the 95th percentile, 5.9 dB at the worst of 380 takes)."""


@dataclass(frozen=True)
class Quality:
    """snr_db: estimated SNR in dB (at most ``MAX_SNR_DB``); speech_frames: frames above the noise level by
    ``SPEECH_ABOVE_NOISE_DB``; speech_seconds: those frames times the hop."""

    snr_db: float
    speech_frames: int
    speech_seconds: float


def quiet_frames(energy: np.ndarray) -> np.ndarray:
    """Indices of the quietest ``QUIET_FRACTION`` of frames (T,), at least one unless T = 0: the frames taken
    to hold noise alone."""
    energy = np.asarray(energy, dtype=np.float64)
    count = max(1, round(QUIET_FRACTION * len(energy))) if len(energy) else 0
    return np.argsort(energy, kind="stable")[:count]


def noise_level(energy: np.ndarray) -> float:
    """Mean energy of the ``quiet_frames`` of (T,); 0 if T = 0."""
    energy = np.asarray(energy, dtype=np.float64)
    return float(energy[quiet_frames(energy)].mean()) if len(energy) else 0.0


def band_power(mfcc: np.ndarray, config: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The power the mel bands of frames (T, n_mfcc) show: sum_j (e^{L_j} - 1) of the minimum-norm log-mel
    vector L >= 0 behind each frame's coefficients, (T,), Meyda's band-power units. DC and the bins above the
    last band, which reach the frame energy, are not in it."""
    return np.expm1(log_mel(mfcc, config)).sum(axis=1)


def segment_snr(energy: np.ndarray, mfcc: np.ndarray | None = None, config: FeatureConfig = DEFAULT_CONFIG) -> float:
    """SNR in dB of one segment: mean signal power over the quiet frames' level, from its frame energies
    (T,); with its MFCCs (T, n_mfcc), the greater of that and the SNR of its ``band_power`` less
    ``BAND_SNR_MARGIN_DB`` (the module docstring: noise claimed in the energies alone does not count)."""
    snr = _power_snr(energy)
    if mfcc is None or len(mfcc) == 0:
        return snr
    return max(snr, _power_snr(band_power(mfcc, config)) - BAND_SNR_MARGIN_DB)


def _power_snr(energy: np.ndarray) -> float:
    """SNR in dB of per-frame powers (T,): mean signal power over the quiet frames' level."""
    energy = np.asarray(energy, dtype=np.float64).ravel()
    noise = noise_level(energy)
    if noise <= 0:
        return MAX_SNR_DB if np.any(energy > 0) else 0.0
    signal = max(float(energy.mean()) - noise, 1e-12 * noise)
    return float(min(MAX_SNR_DB, 10 * np.log10(signal / noise)))


def estimate_quality(
    segments: Sequence[np.ndarray],
    hop_seconds: float = 0.01,
    mfcc: Sequence[np.ndarray] | None = None,
    config: FeatureConfig = DEFAULT_CONFIG,
) -> Quality:
    """Quality of an answer from its segments' raw Meyda frame energies (T_i,) and, wherever the frames
    come from a client, their MFCCs (T_i, n_mfcc) (``segment_snr``).

    Each segment is measured on its own (each is cut from the recording at its word, and its level is its
    own) and the answer's SNR is the median over segments, so one segment cut with no pause at all
    cannot move it far. Speech frames are counted against each segment's own noise level.
    """
    if mfcc is not None and len(mfcc) != len(segments):
        raise ValueError(f"{len(segments)} segments of energies but {len(mfcc)} of MFCCs")
    pairs = [
        (np.asarray(e, dtype=np.float64).ravel(), None if mfcc is None else mfcc[i]) for i, e in enumerate(segments)
    ]
    pairs = [(e, m) for e, m in pairs if len(e)]
    if not pairs:
        return Quality(0.0, 0, 0.0)
    parts = [e for e, _ in pairs]
    snr = float(np.median([segment_snr(e, m, config) for e, m in pairs]))
    above = 10 ** (SPEECH_ABOVE_NOISE_DB / 10)
    speech = sum(int(np.sum(e > noise_level(e) * above)) if noise_level(e) > 0 else int(np.sum(e > 0)) for e in parts)
    return Quality(snr, speech, speech * hop_seconds)
