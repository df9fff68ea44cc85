"""Score normalisation, operating thresholds and calibrated log-likelihood ratios."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


COHORT_PRIOR_SPEAKERS = 5.0


def shrunk_location(location: float, grand_location: float, n_cohort_speakers: int) -> float:
    """A user's impostor-score mean shrunk towards the deployment-wide mean.

    Impostor trials come in clusters of one cohort voice each, so a user's mean is only as
    reliable as the number of cohort *speakers*; with weight n / (n + 5) it moves from the
    grand mean (few cohort speakers) to the user's own mean (many).
    """
    w = n_cohort_speakers / (n_cohort_speakers + COHORT_PRIOR_SPEAKERS)
    return w * location + (1 - w) * grand_location


def threshold_at_far(impostor_scores: np.ndarray, far: float) -> float:
    """Lowest threshold t such that the fraction of impostor scores >= t is at most ``far``.

    With n impostor scores the achievable FAR steps by 1/n; the result accepts
    at most floor(far * n) of them.
    """
    s = np.sort(np.asarray(impostor_scores, dtype=np.float64))
    if len(s) == 0:
        raise ValueError("need impostor scores")
    allowed = int(np.floor(far * len(s) + 1e-9))
    if allowed == 0:
        return float(np.nextafter(s[-1], np.inf))
    # Accept the top `allowed` scores: threshold just above the next one down.
    return float(np.nextafter(s[len(s) - allowed - 1], np.inf))


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
