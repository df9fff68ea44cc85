"""Spoken-content check: which digit does a segment sound like, to this speaker's own digit models?

The classifier is the speaker's hierarchical per-digit models (see ``speaker``):
a segment is scored against all ten, and the prompted digit must not fall far
behind the best one. A margin rather than a strict arg-max, because a genuine
take's prompted digit is the top one only ~96% of the time on FSDD while a wrong
digit almost never comes within the margin (see BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np

from .gmm import DiagGMM
from .scoring import align, models_frame_llr


def digit_scores(ubm: DiagGMM, digit_means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Mean frame LLR of a segment (T, D) under each digit model (10, C, D). (10,); -inf if T = 0."""
    if len(feats) == 0:
        return np.full(len(digit_means), -np.inf)
    llr = models_frame_llr(ubm, digit_means, feats, align(ubm, feats, top_c))
    return llr.mean(axis=1)


def content_margin(scores: np.ndarray, digit: int) -> float:
    """How far the prompted digit's score is above (>0) or below (<0) the best other digit."""
    others = np.delete(np.asarray(scores, dtype=np.float64), digit)
    return float(scores[digit] - others.max())
