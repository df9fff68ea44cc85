"""The fixed FSDD verification protocol (documented in README.md).

Enrolment: takes 0-5 of every digit (60 utterances per speaker). Trials: K
distinct prompted digits, each a random take from 25-49 of the trial's
speaker, drawn with a fixed seed. Every trial is scored against every
speaker's model: target for its own speaker, impostor for all the others.
Noisy condition: white noise at 10 dB SNR added to the test side only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

ENROL_TAKES = tuple(range(0, 6))
TEST_TAKES = tuple(range(25, 50))
# Takes 6-24 are used by nobody's report: benchmarks tune hyper-parameters on
# trials drawn from them, so the reported numbers are never tuned on themselves.
DEV_TAKES = tuple(range(6, 25))


@dataclass(frozen=True)
class Trial:
    """A prompted sequence spoken by ``speaker``: (digit, take) per segment."""

    speaker: str
    segments: tuple[tuple[int, int], ...]


def make_trials(
    speakers: list[str], k: int, per_speaker: int, seed: int = 0, takes: tuple[int, ...] = TEST_TAKES
) -> list[Trial]:
    """``per_speaker`` trials of ``k`` distinct digits for each speaker, deterministic in ``seed``."""
    if not 1 <= k <= 10:
        raise ValueError(f"k must be 1..10, got {k}")
    rng = np.random.default_rng([seed, k])
    trials = []
    for spk in sorted(speakers):
        for _ in range(per_speaker):
            digits = rng.choice(10, size=k, replace=False)
            chosen = rng.choice(takes, size=k)
            trials.append(Trial(spk, tuple((int(d), int(t)) for d, t in zip(digits, chosen, strict=True))))
    return trials


def add_white_noise(samples: np.ndarray, snr_db: float, key: str) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` relative to the signal's mean power.

    The noise is seeded from ``key`` (e.g. the file name), so the condition is
    the same on every run and machine.
    """
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    power = float(np.mean(samples**2))
    noise = rng.standard_normal(len(samples)) * np.sqrt(power / 10 ** (snr_db / 10))
    return samples + noise
