"""Log-likelihood-ratio scoring of frames against adapted means, with top-C selection.

A speaker (or digit) mixture shares the UBM's weights and variances and differs in
its means (C, D). Only the ``top_c`` best UBM components of each frame are
evaluated for the adapted model: MAP keeps the two mixtures aligned, so the rest
contribute almost nothing, and one alignment serves any number of models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from .gmm import LOG_2PI, DiagGMM, weighted_log_densities


@dataclass(frozen=True)
class Alignment:
    """Per-frame UBM log-likelihood ubm_ll (T,) and the indices (T, c) of its top components."""

    ubm_ll: np.ndarray
    idx: np.ndarray


def align(ubm: DiagGMM, feats: np.ndarray, top_c: int = 8) -> Alignment:
    """UBM log-likelihoods and top-C components of frames (T, D); ``top_c`` <= 0 keeps all."""
    feats = np.asarray(feats, dtype=np.float64)
    dens = weighted_log_densities(ubm, feats)
    c = ubm.n_components if top_c <= 0 else min(top_c, ubm.n_components)
    if c < ubm.n_components:
        idx = np.argpartition(-dens, c - 1, axis=1)[:, :c]
    else:
        idx = np.broadcast_to(np.arange(c), dens.shape)
    return Alignment(logsumexp(dens, axis=1), idx)


def models_frame_llr(ubm: DiagGMM, means: np.ndarray, feats: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Per-frame LLR of frames (T, D) under M models given as means (M, C, D). Returns (M, T)."""
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros((len(means), 0))
    idx = alignment.idx
    var = ubm.variances[idx]  # (T, c, D)
    const = np.log(ubm.weights[idx]) - 0.5 * (ubm.dim * LOG_2PI + np.sum(np.log(var), axis=2))  # (T, c)
    diff = feats[None, :, None, :] - means[:, idx]  # (M, T, c, D)
    dens = const[None] - 0.5 * np.sum(diff**2 / var[None], axis=3)
    return logsumexp(dens, axis=2) - alignment.ubm_ll[None, :]


def frame_llr(ubm: DiagGMM, means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Per-frame log p(x | model) - log p(x | UBM) for one model's means (C, D). (T,)"""
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros(0)
    return models_frame_llr(ubm, means[None], feats, align(ubm, feats, top_c))[0]


def trial_llr(
    ubm: DiagGMM, means_per_segment: Sequence[np.ndarray], segments: Sequence[np.ndarray], top_c: int = 8
) -> float:
    """Mean frame LLR over all frames of a multi-segment trial, each segment against its own means."""
    total = 0.0
    count = 0
    for means, feats in zip(means_per_segment, segments, strict=True):
        llr = frame_llr(ubm, means, feats, top_c)
        total += float(llr.sum())
        count += len(llr)
    return total / count if count else float("-inf")
