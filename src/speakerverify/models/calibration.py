"""Deployment calibration maths: a user's impostor location, its shrinkage, the target-FAR threshold.

The one home of these rules: the service (``app/calibration.py``) and the operator's ``eer`` report both
call ``calibrate_deployment``, so they cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def impostor_location(scores: np.ndarray) -> float:
    """A user's location: the mean of its impostor trial scores (n,), 0 when there are none."""
    return float(np.mean(scores)) if len(scores) else 0.0


@dataclass(frozen=True)
class DeploymentCalibration:
    """The pooled threshold on normalised scores, and the grand location users' locations shrink towards."""

    threshold: float
    grand_location: float

    def location(self, own: float, n_cohort_speakers: int) -> float:
        """What is subtracted from a user's raw score: its own location shrunk towards the grand one."""
        return shrunk_location(own, self.grand_location, n_cohort_speakers)


def calibrate_deployment(
    impostor_scores: Sequence[np.ndarray], n_cohort_speakers: Sequence[int], target_far: float
) -> DeploymentCalibration:
    """From each user's raw impostor trial scores (n_u,) and cohort size: the grand location (mean of the
    users' locations) and the target-FAR threshold of all impostor scores, each normalised by its user's
    shrunk location."""
    own = [impostor_location(s) for s in impostor_scores]
    grand = float(np.mean(own))
    normalised = [
        np.asarray(s, dtype=np.float64) - shrunk_location(o, grand, n)
        for s, o, n in zip(impostor_scores, own, n_cohort_speakers, strict=True)
    ]
    return DeploymentCalibration(threshold_at_far(np.concatenate(normalised), target_far), grand)
