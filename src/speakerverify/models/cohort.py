"""Impostor trials assembled from other speakers' stored takes, for deployment calibration.

Impostors recorded in the deployment's own conditions and saying the same digits
score far higher than a mismatched cohort (see issue notes in BENCHMARKS.md), so
each user's model is calibrated against the other users' takes, assembled into
trials of the prompted length. Every take is scored once against the model of its
digit; a trial's score is then a frame-weighted mean of its takes' sums, so many
trials cost almost nothing more than the takes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .gmm import DiagGMM
from .scoring import align, models_frame_llr


def take_llr_sums(
    ubm: DiagGMM, digit_means: np.ndarray, takes: Sequence[tuple[int, np.ndarray]], top_c: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """For takes (digit, feats (T, D)): summed frame LLR against that digit's model, and T. Both (N,)."""
    sums = np.zeros(len(takes))
    counts = np.zeros(len(takes))
    for i, (digit, feats) in enumerate(takes):
        if len(feats):
            llr = models_frame_llr(ubm, digit_means[digit][None], feats, align(ubm, feats, top_c))[0]
            sums[i], counts[i] = llr.sum(), len(llr)
    return sums, counts


def assemble_trials(
    digits: np.ndarray, owners: np.ndarray, k: int, per_owner: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index sets of trials: ``per_owner`` trials per owner, each k takes of k distinct digits of that owner.

    Owners with takes of fewer than k distinct digits contribute nothing.
    """
    trials: list[np.ndarray] = []
    for owner in np.unique(owners):
        mine = np.flatnonzero(owners == owner)
        by_digit = {int(d): mine[digits[mine] == d] for d in np.unique(digits[mine])}
        if len(by_digit) < k:
            continue
        available = np.array(sorted(by_digit))
        for _ in range(per_owner):
            chosen = rng.choice(available, size=k, replace=False)
            trials.append(np.array([rng.choice(by_digit[int(d)]) for d in chosen]))
    return trials


def trial_scores(sums: np.ndarray, counts: np.ndarray, trials: Sequence[np.ndarray]) -> np.ndarray:
    """Mean frame LLR of each trial. (n_trials,)"""
    total = np.array([sums[t].sum() for t in trials])
    frames = np.array([counts[t].sum() for t in trials])
    return np.where(frames > 0, total / np.maximum(frames, 1), -np.inf)
