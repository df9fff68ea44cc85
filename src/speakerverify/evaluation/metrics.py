"""Verification metrics from target and impostor scores (higher score = more likely target).

Rates are fractions in [0, 1] here; reports convert to percent.
"""

from __future__ import annotations

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
