"""SeedBaseline: the 2020 demo's algorithm, kept only as the comparison baseline.

Faithful to ORIGINAL.md: MFCC c1..c12 of Meyda at Web Audio's float scale
(energy used only to drop silent frames), the training log split per digit
into alternating TRAIN / TEST takes, one 5-component full-covariance
GaussianMixture fitted on TRAIN, threshold = mean - std of the TEST frames'
log-likelihoods, and a verification score = % of frames above the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.mixture import GaussianMixture

# The demo's client only sent frames after its energy gate and trimmed the
# trailing silence; FSDD clips come trimmed the same way. eer.py's extra mask at
# energy 0.5 is gain-dependent: on FSDD it removes every frame of the quieter
# speakers (theo, yweweler peak below 0.05), so the baseline keeps all frames
# with any energy at all.
ENERGY_FLOOR = 0.0


def baseline_frames(mfcc: np.ndarray, energy: np.ndarray, energy_floor: float = ENERGY_FLOOR) -> np.ndarray:
    """c1..c12 of the frames louder than ``energy_floor``. (T', 12)"""
    mfcc = np.asarray(mfcc, dtype=np.float64)
    return mfcc[np.asarray(energy) > energy_floor, 1:13]


def split_train_test(digits: Sequence[int]) -> tuple[list[int], list[int]]:
    """Indices of TRAIN and TEST utterances: per digit, alternate takes in log order."""
    seen: dict[int, int] = {}
    train: list[int] = []
    test: list[int] = []
    for i, d in enumerate(digits):
        (train if seen.get(d, 0) % 2 == 0 else test).append(i)
        seen[d] = seen.get(d, 0) + 1
    return train, test


@dataclass(frozen=True)
class SeedBaseline:
    gmm: GaussianMixture
    threshold: float
    reference: float

    @staticmethod
    def fit(utterances: Sequence[tuple[int, np.ndarray]], seed: int = 0) -> SeedBaseline:
        """``utterances``: (digit, frames (T, 12)) in training-log order."""
        train, test = split_train_test([d for d, _ in utterances])
        x_train = np.concatenate([utterances[i][1] for i in train])
        x_test = np.concatenate([utterances[i][1] for i in test])
        gmm = GaussianMixture(n_components=5, covariance_type="full", random_state=seed).fit(x_train)
        ll = gmm.score_samples(x_test)
        threshold = float(ll.mean() - ll.std())
        return SeedBaseline(gmm, threshold, float(100 * np.mean(ll > threshold)))

    def matched(self, frames: np.ndarray) -> tuple[int, int]:
        """(frames above the threshold, frames) of one attempt."""
        if len(frames) == 0:
            return 0, 0
        return int(np.sum(self.gmm.score_samples(frames) > self.threshold)), len(frames)

    def score(self, frames: np.ndarray) -> float:
        """Match percentage of an attempt's frames."""
        hit, n = self.matched(frames)
        return 100.0 * hit / n if n else 0.0
