"""An answer's quality from its raw frame energies alone: SNR and speech length.

The noise level is what the quietest frames hold (in an utterance the pauses and edges carry the noise
alone); the signal is the rest of the mean frame energy. The SNR is defined as ``evaluation.noise.mix``
and ``models.noisy_copies`` define it: the mean signal power of the whole utterance over the noise power,
so a measured answer can be matched by copies made at the same SNR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUIET_FRACTION = 0.1
"""The share of frames, the quietest, taken to hold noise alone."""
SPEECH_ABOVE_NOISE_DB = 6.0
"""A frame counts as speech when its energy is this far above the noise level."""
MAX_SNR_DB = 60.0
"""Reported for digital silence between words, where the quiet frames hold nothing at all."""


@dataclass(frozen=True)
class Quality:
    """snr_db: estimated SNR in dB (at most ``MAX_SNR_DB``); speech_frames: frames above the noise level by
    ``SPEECH_ABOVE_NOISE_DB``; speech_seconds: those frames times the hop."""

    snr_db: float
    speech_frames: int
    speech_seconds: float


def noise_level(energy: np.ndarray) -> float:
    """Mean energy of the quietest ``QUIET_FRACTION`` of frames (T,) (at least one frame); 0 if T = 0."""
    energy = np.sort(np.asarray(energy, dtype=np.float64))
    if len(energy) == 0:
        return 0.0
    return float(energy[: max(1, round(QUIET_FRACTION * len(energy)))].mean())


def segment_snr(energy: np.ndarray) -> float:
    """SNR in dB of one segment's frame energies (T,): mean signal power over the quiet frames' level."""
    energy = np.asarray(energy, dtype=np.float64).ravel()
    noise = noise_level(energy)
    if noise <= 0:
        return MAX_SNR_DB if np.any(energy > 0) else 0.0
    signal = max(float(energy.mean()) - noise, 1e-12 * noise)
    return float(min(MAX_SNR_DB, 10 * np.log10(signal / noise)))


def estimate_quality(segments: Sequence[np.ndarray], hop_seconds: float = 0.01) -> Quality:
    """Quality of an answer from its segments' raw Meyda frame energies (T_i,).

    Each segment is measured on its own (each is cut from the recording at its word, and its level is its
    own) and the answer's SNR is the median over segments, so one segment cut with no pause at all
    cannot move it far. Speech frames are counted against each segment's own noise level.
    """
    parts = [np.asarray(e, dtype=np.float64).ravel() for e in segments]
    parts = [e for e in parts if len(e)]
    if not parts:
        return Quality(0.0, 0, 0.0)
    snr = float(np.median([segment_snr(e) for e in parts]))
    above = 10 ** (SPEECH_ABOVE_NOISE_DB / 10)
    speech = sum(int(np.sum(e > noise_level(e) * above)) if noise_level(e) > 0 else int(np.sum(e > 0)) for e in parts)
    return Quality(snr, speech, speech * hop_seconds)
