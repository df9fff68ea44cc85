"""Diagonal-covariance Gaussian mixtures: densities, posteriors and EM.

Shapes: ``x`` is (T, D) frames, a mixture has C components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

LOG_2PI = float(np.log(2 * np.pi))
_CHUNK = 20000  # frames per block: bounds the (T, C) matrices in memory


@dataclass(frozen=True)
class DiagGMM:
    """weights (C,), means (C, D), variances (C, D); all float64."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    @property
    def n_components(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def with_means(self, means: np.ndarray) -> DiagGMM:
        return DiagGMM(self.weights, means, self.variances)

    @cached_property
    def terms(self) -> DensityTerms:
        """The density's frame-independent parts, computed once per mixture (scoring is hot)."""
        precision = 1.0 / self.variances
        log_norm = np.log(self.weights) - 0.5 * (self.dim * LOG_2PI + np.sum(np.log(self.variances), axis=1))
        return DensityTerms(
            precision=precision,
            log_norm=log_norm,
            const=log_norm - 0.5 * np.sum(self.means**2 * precision, axis=1),
            linear_t=np.ascontiguousarray((self.means * precision).T),
            precision_t=np.ascontiguousarray(precision.T),
        )


@dataclass(frozen=True)
class DensityTerms:
    """log w_c + log N(x | mu_c, var_c) = const_c + x . (mu_c / var_c) - 0.5 x^2 . (1 / var_c).

    precision (C, D); log_norm (C,) = log w_c - 0.5 (D log 2 pi + sum log var_c);
    const (C,) = log_norm - 0.5 sum mu_c^2 / var_c; linear_t (D, C); precision_t (D, C).
    """

    precision: np.ndarray
    log_norm: np.ndarray
    const: np.ndarray
    linear_t: np.ndarray
    precision_t: np.ndarray


def quadratic_terms(gmm: DiagGMM, x: np.ndarray) -> np.ndarray:
    """x^2 . (1 / var_c) for every frame and component. (T, C)"""
    x = np.asarray(x, dtype=np.float64)
    return (x**2) @ gmm.terms.precision_t


def weighted_log_densities(gmm: DiagGMM, x: np.ndarray, quadratic: np.ndarray | None = None) -> np.ndarray:
    """log(w_c) + log N(x_t | mu_c, diag var_c) for every frame and component. (T, C).

    ``quadratic`` is ``quadratic_terms(gmm, x)`` if the caller has it already.
    """
    x = np.asarray(x, dtype=np.float64)
    q = quadratic_terms(gmm, x) if quadratic is None else quadratic
    return gmm.terms.const + x @ gmm.terms.linear_t - 0.5 * q


def log_sum_exp_rows(a: np.ndarray) -> np.ndarray:
    """log sum exp over the last axis (numerically safe; -inf rows stay -inf)."""
    peak = np.max(a, axis=-1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return np.log(np.sum(np.exp(a - peak), axis=-1)) + peak[..., 0]


def frame_log_likelihood(gmm: DiagGMM, x: np.ndarray) -> np.ndarray:
    """log p(x_t) per frame. (T,)"""
    return log_sum_exp_rows(weighted_log_densities(gmm, x))


def posteriors(gmm: DiagGMM, x: np.ndarray) -> np.ndarray:
    """Component responsibilities gamma_tc, rows sum to 1. (T, C)"""
    log_dens = weighted_log_densities(gmm, x)
    return np.exp(log_dens - log_sum_exp_rows(log_dens)[:, None])


def accumulate(gmm: DiagGMM, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Zeroth, first and second order statistics and the total log-likelihood of ``x``.

    Returns n (C,), f (C, D), s (C, D), total log p(x).
    """
    n = np.zeros(gmm.n_components)
    f = np.zeros((gmm.n_components, gmm.dim))
    s = np.zeros((gmm.n_components, gmm.dim))
    total = 0.0
    for start in range(0, len(x), _CHUNK):
        block = np.asarray(x[start : start + _CHUNK], dtype=np.float64)
        log_dens = weighted_log_densities(gmm, block)
        norm = log_sum_exp_rows(log_dens)[:, None]
        gamma = np.exp(log_dens - norm)
        total += float(norm.sum())
        n += gamma.sum(axis=0)
        f += gamma.T @ block
        s += gamma.T @ (block**2)
    return n, f, s, total


def m_step(n: np.ndarray, f: np.ndarray, s: np.ndarray, var_floor: np.ndarray, old: DiagGMM) -> DiagGMM:
    """Maximum-likelihood update from statistics; components with no mass keep their old parameters."""
    alive = n > 1e-3
    safe_n = np.where(alive, n, 1.0)[:, None]
    means = np.where(alive[:, None], f / safe_n, old.means)
    variances = np.where(alive[:, None], s / safe_n - means**2, old.variances)
    variances = np.maximum(variances, var_floor)
    weights = np.maximum(n / n.sum(), 1e-10)
    return DiagGMM(weights / weights.sum(), means, variances)


def em(
    x: np.ndarray,
    init: DiagGMM,
    n_iter: int,
    var_floor: np.ndarray,
    on_iteration: Callable[[int, float], None] | None = None,
) -> tuple[DiagGMM, list[float]]:
    """Run ``n_iter`` EM iterations from ``init``.

    Returns the final mixture and the mean per-frame log-likelihood of ``x``
    under the parameters *entering* each iteration (non-decreasing in exact
    arithmetic, which the tests check).
    """
    gmm = init
    history: list[float] = []
    for i in range(n_iter):
        n, f, s, total = accumulate(gmm, x)
        history.append(total / len(x))
        if on_iteration:
            on_iteration(i, history[-1])
        gmm = m_step(n, f, s, var_floor, gmm)
    return gmm, history


def split(gmm: DiagGMM, rng: np.random.Generator) -> DiagGMM:
    """Double the components: each mean moves +/- 0.2 standard deviations (plus a tiny jitter)."""
    offset = 0.2 * np.sqrt(gmm.variances) * (1 + 0.01 * rng.standard_normal(gmm.means.shape))
    return DiagGMM(
        np.concatenate([gmm.weights, gmm.weights]) / 2,
        np.concatenate([gmm.means - offset, gmm.means + offset]),
        np.concatenate([gmm.variances, gmm.variances]),
    )


def train_gmm(
    x: np.ndarray,
    n_components: int,
    seed: int = 0,
    iters_per_split: int = 4,
    final_iters: int = 10,
    var_floor_ratio: float = 1e-3,
    on_iteration: Callable[[int, int, float], None] | None = None,
) -> DiagGMM:
    """Train a diagonal GMM by binary splitting and EM; deterministic given ``seed``.

    ``n_components`` must be a power of two. ``on_iteration(components, iteration,
    mean_loglik)`` reports progress.
    """
    if n_components < 1 or n_components & (n_components - 1):
        raise ValueError(f"n_components must be a power of two, got {n_components}")
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    global_var = x.var(axis=0)
    var_floor = var_floor_ratio * global_var
    gmm = DiagGMM(np.ones(1), x.mean(axis=0, keepdims=True), global_var[None, :].copy())
    while True:
        last = gmm.n_components == n_components
        c = gmm.n_components

        def report(i: int, ll: float, c: int = c) -> None:
            if on_iteration:
                on_iteration(c, i, ll)

        gmm, _ = em(x, gmm, final_iters if last else iters_per_split, var_floor, report)
        if last:
            return gmm
        gmm = split(gmm, rng)
