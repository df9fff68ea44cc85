"""Deployment calibration maths: a user's impostor location, its shrinkage, the target-FAR threshold.

The one home of these rules: the service (``app/calibration.py``) and the operator's ``eer`` report both
call ``calibrate_deployment``, so they cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COHORT_PRIOR_SPEAKERS = 5.0
SNR_LEVELS = (20.0, 15.0, 10.0, 5.0)
"""Nominal SNRs (dB) the cohort's takes are degraded to, by the noisy-copy construction, for the
quality-aware thresholds; an answer measured below the lowest level's SNR cannot be decided at the
promised FAR (``too_noisy``)."""
DEGRADED_COHORT_BIAS = (0.0, 0.0, 0.0, 0.0)
"""How much each level's threshold (normalised mean frame LLR, one per ``SNR_LEVELS``) is lowered below the
degraded cohort's own target-FAR point: none. Really noisy impostor answers do score below the degraded
cohort (the copies and the degradation share one construction, models/noisy_copies.py; real noise does not:
median -0.20 to -0.38 for white/pink, twice that for babble, ``benchmarks/noise_operating_point.py``), and
lowering each level by that (0.15, 0.19, 0.26, 0.33 until 2026-12-02) halved white 10 dB FRR. But an
impostor chooses what their answer looks like: cepstra flattened towards the take's mean with the frame
energies raised to claim noise look like the construction, score like it against copy-augmented models, and
were accepted at 3.8-4.6% of 2,400 against the lowered levels (SECURITY.md "Flattened cepstra",
``benchmarks/flattened_cepstra.py``); at the cohort's own point, 1.4%. So the levels hold the FAR the
degraded cohort promises and take no credit for real noise being kinder. What a level asks above the clean
point is still scaled per answer by its noise signature (``models.noise_signature``,
``voice.decision.Calibration.operating_point``)."""


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
    """A user's location from its impostor trial scores (n,): their mean, 0 when there are none.

    ``robust_location`` is what the service stores; this plain mean is the fallback for scores whose
    cohort speakers are not known (and the leave-one-out evaluation's estimate)."""
    return float(np.mean(scores)) if len(scores) else 0.0


def speaker_means(scores: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner ids (S,), mean trial score of each owner (S,)) from trial scores (n,) and their owners (n,)."""
    ids, inverse = np.unique(owners, return_inverse=True)
    sums = np.bincount(inverse, weights=scores, minlength=len(ids))
    return ids, sums / np.bincount(inverse, minlength=len(ids))


def robust_location(scores: np.ndarray, owners: np.ndarray) -> float:
    """The median over cohort speakers of each speaker's mean impostor score: every cohort speaker has one
    vote, so one account (a copy of someone's voice, crafted takes) cannot drag a user's location."""
    if len(scores) == 0:
        return 0.0
    return float(np.median(speaker_means(scores, owners)[1]))


def near_duplicates(scores: np.ndarray, owners: np.ndarray, accept_level: float) -> np.ndarray:
    """Owners whose trials against the user's model score, on average, at or above ``accept_level`` (the raw
    score the provisional threshold accepts): they sound like the user, so as impostors they would only
    poison the calibration (a copy of the user's recordings, the user's second account). (m,) owner ids."""
    ids, means = speaker_means(scores, owners)
    return ids[means >= accept_level]


@dataclass(frozen=True)
class NoisyScores:
    """One user's impostor trials with the cohort's takes degraded to each of L noise levels: the median
    measured SNR (dB, ``features.quality``) of each level's trials (L,), the raw scores (L, n) and the
    user's location at each level (L,); with the noise model, the median noise signature of each level's
    trials (L,) and of the clean trials (``models.noise_signature``; None for rows from before it)."""

    snr_db: np.ndarray
    scores: np.ndarray
    locations: np.ndarray
    clean_snr_db: float  # the median measured SNR of the user's clean trials
    signature: np.ndarray | None = None
    clean_signature: float | None = None


@dataclass(frozen=True)
class NoisyLevel:
    """A deployment-wide operating point for answers of a measured SNR: the target-FAR threshold on scores
    normalised by that level's locations, and the level's grand location."""

    snr_db: float
    threshold: float
    grand_location: float
    bias: float = 0.0  # the ``DEGRADED_COHORT_BIAS`` the threshold was lowered by
    signature: float | None = None  # the level's median noise signature over the users (None: not measured)


@dataclass(frozen=True)
class DeploymentCalibration:
    """The pooled threshold on normalised scores, and the grand location users' locations shrink towards;
    ``levels`` the same per noise level (noisiest last), empty when no noisy scores were given."""

    threshold: float
    grand_location: float
    levels: tuple[NoisyLevel, ...] = ()
    clean_snr_db: float | None = None  # where ``threshold`` holds on the measured-SNR axis of ``levels``
    clean_signature: float | None = None  # the clean trials' median noise signature over the users

    def location(self, own: float, n_cohort_speakers: int) -> float:
        """What is subtracted from a user's raw score: its own location shrunk towards the grand one."""
        return shrunk_location(own, self.grand_location, n_cohort_speakers)


def _pooled(
    impostor_scores: Sequence[np.ndarray], n_cohort_speakers: Sequence[int], own: Sequence[float], target_far: float
) -> tuple[float, float]:
    """(target-FAR threshold of all scores normalised by their user's shrunk location, grand location)."""
    grand = float(np.mean(own))
    normalised = [
        np.asarray(s, dtype=np.float64) - shrunk_location(o, grand, n)
        for s, o, n in zip(impostor_scores, own, n_cohort_speakers, strict=True)
    ]
    return threshold_at_far(np.concatenate(normalised), target_far), grand


def calibrate_deployment(
    impostor_scores: Sequence[np.ndarray],
    n_cohort_speakers: Sequence[int],
    target_far: float,
    locations: Sequence[float] | None = None,
    noisy: Sequence[NoisyScores] | None = None,
    level_bias: Sequence[float] = DEGRADED_COHORT_BIAS,
) -> DeploymentCalibration:
    """From each user's raw impostor trial scores (n_u,), cohort size and location (default: the mean of its
    scores): the grand location (mean of the users' locations) and the target-FAR threshold of all impostor
    scores, each normalised by its user's shrunk location. With each user's ``noisy`` scores (same levels
    for all), the same per level, at the median of the users' measured SNRs, less that level's
    ``level_bias`` (one per level, ``DEGRADED_COHORT_BIAS``; zeros: the degraded cohort's own target-FAR
    point), so the FAR real noisy impostors meet holds at every level. When every user's scores carry noise
    signatures, each level (and the clean point) gets the median of the users' signatures."""
    own = [impostor_location(s) for s in impostor_scores] if locations is None else list(locations)
    threshold, grand = _pooled(impostor_scores, n_cohort_speakers, own, target_far)
    if not noisy:
        return DeploymentCalibration(threshold, grand)
    if len(level_bias) != len(noisy[0].snr_db):
        raise ValueError(f"{len(noisy[0].snr_db)} noise levels but {len(level_bias)} biases")
    signed = all(u.signature is not None and u.clean_signature is not None for u in noisy)
    levels = []
    for level, bias in enumerate(level_bias):
        scores = [u.scores[level] for u in noisy]
        t, g = _pooled(scores, n_cohort_speakers, [float(u.locations[level]) for u in noisy], target_far)
        sig = float(np.median([u.signature[level] for u in noisy if u.signature is not None])) if signed else None
        snr = float(np.median([u.snr_db[level] for u in noisy]))
        levels.append(NoisyLevel(snr, t - bias, g, float(bias), sig))
    clean_snr = float(np.median([u.clean_snr_db for u in noisy]))
    clean_sigs = [u.clean_signature for u in noisy if u.clean_signature is not None]
    clean_sig = float(np.median(clean_sigs)) if signed else None
    return DeploymentCalibration(threshold, grand, tuple(levels), clean_snr, clean_sig)


def bounded(threshold: float, low: float, high: float) -> float:
    """The pooled threshold kept within a sane range around the provisional one: a population of sybil
    accounts can then neither lower it far (more false accepts) nor raise it far (locking everyone out)."""
    return float(min(max(threshold, low), high))
