"""Verification metrics from target and impostor scores (higher score = more likely target).

Rates are fractions in [0, 1] here; reports convert to percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def error_curves(target: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FRR and FAR for every distinct threshold "accept if score >= t".

    Returns thresholds (K,), frr (K,), far (K,), thresholds ascending; a final
    threshold of +inf rejects everything.
    """
    target = np.sort(np.asarray(target, dtype=np.float64))
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    if len(target) == 0 or len(impostor) == 0:
        raise ValueError("need at least one target and one impostor score")
    thresholds = np.append(np.unique(np.concatenate([target, impostor])), np.inf)
    frr = np.searchsorted(target, thresholds, side="left") / len(target)
    far = (len(impostor) - np.searchsorted(impostor, thresholds, side="left")) / len(impostor)
    return thresholds, frr, far


def eer(target: np.ndarray, impostor: np.ndarray) -> float:
    """Equal error rate: where FAR and FRR cross, linearly interpolated between thresholds."""
    _, frr, far = error_curves(target, impostor)
    diff = far - frr  # decreasing from >= 0 to <= 0
    i = int(np.argmax(diff <= 0))
    if i == 0 or diff[i] == 0:
        return float((far[i] + frr[i]) / 2)
    # Interpolate between the last point with FAR > FRR and the first with FAR <= FRR.
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1)
    return float((1 - w) * (far[i - 1] + frr[i - 1]) / 2 + w * (far[i] + frr[i]) / 2)


def min_dcf(
    target: np.ndarray, impostor: np.ndarray, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0
) -> float:
    """Minimum normalised detection cost over thresholds (NIST SRE definition)."""
    _, frr, far = error_curves(target, impostor)
    cost = c_miss * p_target * frr + c_fa * (1 - p_target) * far
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def frr_at_far(target: np.ndarray, impostor: np.ndarray, far_target: float = 0.01) -> float:
    """Lowest FRR among thresholds whose FAR does not exceed ``far_target``."""
    _, frr, far = error_curves(target, impostor)
    return float(frr[far <= far_target].min())


def plot_det(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "DET") -> None:
    """DET curves (probit axes) of several systems, each given as (target, impostor) scores, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    ticks = np.array([0.1, 0.5, 1, 2, 5, 10, 20, 40]) / 100
    clip = 1e-4
    fig, ax = plt.subplots(figsize=(6, 6))
    for label, (target, impostor) in curves.items():
        _, frr, far = error_curves(target, impostor)
        ax.plot(norm.ppf(np.clip(far, clip, 1 - clip)), norm.ppf(np.clip(frr, clip, 1 - clip)), label=label)
    ax.set_xticks(norm.ppf(ticks), [f"{t * 100:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t * 100:g}" for t in ticks])
    lim = norm.ppf([5e-4, 0.5])
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_xlabel("false accept rate (%)")
    ax.set_ylabel("false reject rate (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- score calibration, for evaluation reports (the service calibrates with models.calibration) ---


@dataclass(frozen=True)
class Norm:
    """Z-norm parameters of one speaker model: mean and std of its impostor-cohort scores."""

    mean: float
    std: float

    def apply(self, score: float | np.ndarray) -> float | np.ndarray:
        return (score - self.mean) / self.std


def znorm_params(cohort_scores: np.ndarray, min_std: float = 1e-3) -> Norm:
    """Z-norm from the scores of cohort (non-target) trials against one model."""
    cohort_scores = np.asarray(cohort_scores, dtype=np.float64)
    if len(cohort_scores) < 2:
        raise ValueError("Z-norm needs at least two cohort scores")
    return Norm(float(cohort_scores.mean()), float(max(cohort_scores.std(ddof=1), min_std)))


@dataclass(frozen=True)
class LinearCalibration:
    """llr = scale * score + offset, in natural-log units."""

    scale: float
    offset: float

    def llr(self, score: float | np.ndarray) -> float | np.ndarray:
        return self.scale * np.asarray(score) + self.offset


def fit_logistic_calibration(
    target: np.ndarray, impostor: np.ndarray, p_target: float = 0.5, l2: float = 1e-6, n_iter: int = 50
) -> LinearCalibration:
    """Prior-weighted logistic regression mapping scores to log-likelihood ratios (Newton's method).

    Each class is weighted so it carries ``p_target`` / ``1 - p_target`` of the
    total, and the prior log-odds are removed from the offset, so the output
    is an LLR whatever the class counts.
    """
    t = np.asarray(target, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    x = np.concatenate([t, i])
    y = np.concatenate([np.ones(len(t)), np.zeros(len(i))])
    w = np.concatenate([np.full(len(t), p_target / len(t)), np.full(len(i), (1 - p_target) / len(i))])
    prior_logit = np.log(p_target / (1 - p_target))
    mu, sd = x.mean(), x.std() or 1.0
    z = (x - mu) / sd
    design = np.stack([z, np.ones_like(z)], axis=1)
    theta = np.zeros(2)
    for _ in range(n_iter):
        p = 1 / (1 + np.exp(-(design @ theta + prior_logit)))
        grad = design.T @ (w * (p - y)) + l2 * theta
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    scale = theta[0] / sd
    return LinearCalibration(float(scale), float(theta[1] - scale * mu))
