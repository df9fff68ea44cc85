"""Log-likelihood-ratio scoring of frames against adapted means, with top-C selection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from .gmm import LOG_2PI, DiagGMM, weighted_log_densities


def frame_llr(ubm: DiagGMM, means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Per-frame log p(x | speaker) - log p(x | UBM). (T,)

    The speaker mixture shares the UBM weights and variances and differs in
    ``means`` (C, D). Only the ``top_c`` best UBM components of each frame are
    evaluated for the speaker (0 = all); MAP keeps the two mixtures aligned, so
    the rest contribute almost nothing.
    """
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros(0)
    ubm_dens = weighted_log_densities(ubm, feats)
    ubm_ll = logsumexp(ubm_dens, axis=1)
    c = ubm.n_components if top_c <= 0 or top_c >= ubm.n_components else top_c
    idx = np.argpartition(-ubm_dens, c - 1, axis=1)[:, :c] if c < ubm.n_components else None
    if idx is None:
        spk_dens = weighted_log_densities(ubm.with_means(means), feats)
    else:
        var = ubm.variances[idx]  # (T, c, D)
        diff = feats[:, None, :] - means[idx]
        spk_dens = (
            np.log(ubm.weights[idx])
            - 0.5 * (ubm.dim * LOG_2PI + np.sum(np.log(var), axis=2))
            - 0.5 * np.sum(diff**2 / var, axis=2)
        )
    return logsumexp(spk_dens, axis=1) - ubm_ll


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
