"""Log-likelihood-ratio scoring of frames against adapted means, with top-C selection.

A speaker (or digit) mixture shares the UBM's weights and variances and differs in
its means (C, D). Only the ``top_c`` best UBM components of each frame are
evaluated for the adapted model: MAP keeps the two mixtures aligned, so the rest
contribute almost nothing, and one alignment serves any number of models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gmm import DiagGMM, log_sum_exp_rows, quadratic_terms, weighted_log_densities


@dataclass(frozen=True)
class Alignment:
    """Frames (T, D) placed against the UBM.

    ubm_ll (T,) per-frame UBM log-likelihood; idx (T, c) its top components; base (T, c) the
    model-independent part of those components' log densities, log w - 0.5 (D log 2 pi +
    sum log var + x^2 . 1/var), which every adapted model (same weights and variances) shares.
    """

    ubm_ll: np.ndarray
    idx: np.ndarray
    base: np.ndarray

    def frames(self, which: slice | np.ndarray) -> Alignment:
        """The alignment of some of the frames (a slice, a boolean mask or indices over T)."""
        return Alignment(self.ubm_ll[which], self.idx[which], self.base[which])


@dataclass(frozen=True)
class ModelTerms:
    """M adapted models' mean-dependent density terms: linear (M, C, D) = mu / var and
    const (M, C) = -0.5 sum mu^2 / var. Computed once per model set (a service caches them)."""

    linear: np.ndarray
    const: np.ndarray


def model_terms(ubm: DiagGMM, means: np.ndarray, dtype: type[np.floating] = np.float64) -> ModelTerms:
    """Terms of models given as means (M, C, D) sharing ``ubm``'s weights and variances.

    ``dtype`` float32 halves a cached model's memory; the per-frame LLR moves by ~1e-5.
    """
    means = np.asarray(means, dtype=np.float64)
    precision = ubm.terms.precision
    return ModelTerms(
        linear=np.ascontiguousarray(means * precision[None], dtype=dtype),
        const=-0.5 * np.sum(means**2 * precision[None], axis=2),
    )


def align(ubm: DiagGMM, feats: np.ndarray, top_c: int = 8) -> Alignment:
    """UBM log-likelihoods and top-C components of frames (T, D); ``top_c`` <= 0 keeps all."""
    feats = np.asarray(feats, dtype=np.float64)
    quad = quadratic_terms(ubm, feats)
    dens = weighted_log_densities(ubm, feats, quad)
    c = ubm.n_components if top_c <= 0 else min(top_c, ubm.n_components)
    if c < ubm.n_components:
        idx = np.argpartition(-dens, c - 1, axis=1)[:, :c]
    else:
        idx = np.broadcast_to(np.arange(c), dens.shape)
    base = ubm.terms.log_norm[idx] - 0.5 * np.take_along_axis(quad, idx, axis=1)
    return Alignment(log_sum_exp_rows(dens), idx, base)


def terms_frame_llr(terms: ModelTerms, feats: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Per-frame LLR of frames (T, D) under each of the M models of ``terms``. (M, T)"""
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros((len(terms.const), 0))
    idx = alignment.idx
    # Only the c selected components of each frame are gathered: (M, T, c, D), not (M, T, C, D).
    linear = np.einsum("td,mtkd->mtk", feats.astype(terms.linear.dtype), terms.linear[:, idx])
    dens = linear + terms.const[:, idx] + alignment.base[None]
    return log_sum_exp_rows(dens) - alignment.ubm_ll[None, :]


def chosen_frame_llr(
    terms: ModelTerms, feats: np.ndarray, alignment: Alignment, model_of_frame: np.ndarray
) -> np.ndarray:
    """Per-frame LLR of frames (T, D), each under its own model ``model_of_frame`` (T,) of ``terms``. (T,)"""
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros(0)
    idx = alignment.idx
    which = np.asarray(model_of_frame)[:, None]
    linear = np.einsum("td,tkd->tk", feats.astype(terms.linear.dtype), terms.linear[which, idx])
    dens = linear + terms.const[which, idx] + alignment.base
    return log_sum_exp_rows(dens) - alignment.ubm_ll


def models_frame_llr(ubm: DiagGMM, means: np.ndarray, feats: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Per-frame LLR of frames (T, D) under M models given as means (M, C, D). Returns (M, T)."""
    return terms_frame_llr(model_terms(ubm, means), feats, alignment)


def frame_llr(ubm: DiagGMM, means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Per-frame log p(x | model) - log p(x | UBM) for one model's means (C, D). (T,)"""
    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) == 0:
        return np.zeros(0)
    return models_frame_llr(ubm, means[None], feats, align(ubm, feats, top_c))[0]
