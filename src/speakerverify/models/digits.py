"""Spoken-content check: which digit does a segment sound like, to this speaker's own digit models?

The classifier is the speaker's hierarchical per-digit models (see ``speaker``):
a segment is scored against all ten, and the prompted digit must not fall far
behind the best one. A margin rather than a strict arg-max, because a genuine
take's prompted digit is the top one only ~96% of the time on FSDD while a wrong
digit almost never comes within the margin (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .frame_bounds import bound_frame_llr
from .gmm import DiagGMM
from .scoring import Alignment, ModelTerms, align, model_terms, terms_frame_llr


def digit_scores(ubm: DiagGMM, digit_means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Mean frame LLR of a segment (T, D) under each digit model (10, C, D). (10,); -inf if T = 0."""
    return segment_digit_scores(ubm, model_terms(ubm, digit_means), [feats], top_c)[0]


def segment_digit_scores(
    ubm: DiagGMM,
    digit_terms: ModelTerms,
    segments: Sequence[np.ndarray],
    top_c: int = 8,
    alignment: Alignment | None = None,
) -> np.ndarray:
    """Mean frame LLR of each segment (T_i, D) under each digit model. (S, 10); a row of -inf if T_i = 0.

    All segments' frames are aligned to the UBM in one pass (or ``alignment``: the caller's, of the
    segments' frames concatenated, sum T_i, with ``top_c``).
    """
    n_models = len(digit_terms.const)
    lengths = np.array([len(f) for f in segments])
    out = np.full((len(segments), n_models), -np.inf)
    if lengths.sum() == 0:
        return out
    feats = np.concatenate([np.asarray(f, dtype=np.float64) for f in segments if len(f)])
    aligned = align(ubm, feats, top_c) if alignment is None else alignment
    llr = bound_frame_llr(terms_frame_llr(digit_terms, feats, aligned))  # (10, sum T)
    starts = np.concatenate([[0], np.cumsum(lengths[lengths > 0])[:-1]])
    out[lengths > 0] = (np.add.reduceat(llr, starts, axis=1) / lengths[lengths > 0]).T
    return out


def content_margin(scores: np.ndarray, digit: int) -> float:
    """How far the prompted digit's score is above (>0) or below (<0) the best other digit."""
    others = np.delete(np.asarray(scores, dtype=np.float64), digit)
    return float(scores[digit] - others.max())
