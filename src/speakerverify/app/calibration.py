"""Deployment calibration: each user's scores normalised against the other users' takes.

A mismatched cohort (another corpus, another room) makes impostors look far less
like targets than the deployment's own impostors do, so thresholds set on it are
much too low. Here the cohort is the deployment itself: up to ``max_cohort_users``
other ready users' stored takes, assembled into impostor trials of the challenge
length and scored against the user's digit models. A user's score is normalised by
subtracting a robust location of those impostor scores (the median over cohort speakers of
each speaker's mean, so one account has one vote), shrunk towards the deployment-wide
mean by the number of cohort speakers (location only: with a handful of cohort
speakers the spread is too noisy to divide by; see BENCHMARKS.md),
and the decision threshold is the target-FAR point of the pooled normalised
impostor scores, kept within ``threshold_range``. Cohort users who sound like the user
(their trials would pass the provisional threshold on average: a copy of the user's
recordings, a second account) are set aside and recorded for the operator. With fewer
than ``min_cohort_users`` others, a conservative provisional threshold on the raw score
is used and the response says so.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..features.quality import segment_snr
from ..models.calibration import (
    SNR_LEVELS,
    DeploymentCalibration,
    NoisyScores,
    bounded,
    calibrate_deployment,
    near_duplicates,
    robust_location,
    shrunk_location,
)
from ..models.cohort import assemble_trials, noisy_trial_scores, take_llr_sums, trial_scores, trial_snr
from ..storage import calibrations, speaker_models, utterances
from ..storage.tables import Calibration as StoredCalibration
from ..storage.tables import DeploymentThreshold
from ..voice.decision import Calibration
from ..voice.runtime import CachedModel
from .context import AppContext

log = logging.getLogger("speakerverify.calibration")


def _cohort_key(ids: list[uuid.UUID]) -> str:
    return hashlib.sha256(",".join(sorted(str(i) for i in ids)).encode()).hexdigest()[:32]


def _user_rng(user_id: uuid.UUID, k: int) -> np.random.Generator:
    return np.random.default_rng([user_id.int & (2**63 - 1), k])


def _noisy(
    ctx: AppContext,
    model: CachedModel,
    raw: list[tuple[int, np.ndarray, np.ndarray]],
    trials: list[np.ndarray],
    trial_owner: np.ndarray,
) -> NoisyScores:
    """The user's trials again with the cohort's takes degraded to each of ``SNR_LEVELS`` (the noisy-copy
    construction), each level's location as robust as the clean one's; and the clean trials' measured SNR."""
    rt = ctx.voice
    snr, scores = noisy_trial_scores(rt.ubm.gmm, model.terms, raw, trials, SNR_LEVELS, rt.post, rt.adaptation.top_c)
    clean = trial_snr(np.array([segment_snr(e) for _, _, e in raw]), trials)
    locations = np.array([robust_location(s, trial_owner) for s in scores])
    return NoisyScores(np.median(snr, axis=1), scores, locations, float(np.median(clean)) if len(clean) else 0.0)


def _compute_user(
    ctx: AppContext, session: Session, user_id: uuid.UUID, model: CachedModel, cohort: list[uuid.UUID], k: int
) -> None:
    rt, policy = ctx.voice, ctx.settings.voice
    takes = utterances.takes_of_users(session, cohort, policy.takes_per_digit)
    raw, owners = [], []
    for owner_index, owner in enumerate(cohort):
        for row in takes[owner]:
            if row.config_id == rt.config.config_id:
                raw.append((row.digit, *utterances.utterance_arrays(row)))
                owners.append(owner_index)
    segments = [(d, postprocess(m, e, rt.post)) for d, m, e in raw]
    sums, counts = take_llr_sums(rt.ubm.gmm, model.terms, segments, rt.adaptation.top_c)
    digits, owner_of = np.array([d for d, _ in segments]), np.array(owners, dtype=int)
    trials = assemble_trials(digits, owner_of, k, policy.cohort_trials_per_user, _user_rng(user_id, k))
    scores = trial_scores(sums, counts, trials)
    trial_owner = np.array([owner_of[t[0]] for t in trials], dtype=int)
    finite = np.isfinite(scores)
    scores, trial_owner = scores[finite], trial_owner[finite]
    dupes = near_duplicates(scores, trial_owner, policy.provisional_threshold)
    if len(dupes):
        log.warning("calibration of %s sets aside %d near-duplicate cohort users", user_id, len(dupes))
    kept = ~np.isin(trial_owner, dupes)
    kept_trials = [t for t, f in zip(trials, finite, strict=True) if f]
    kept_trials = [t for t, keep in zip(kept_trials, kept, strict=True) if keep]
    calibrations.put_calibration(
        session,
        user_id,
        ubm_id=rt.ubm.ubm_id,
        model_version=model.version,
        k=k,
        cohort_key=_cohort_key(cohort),
        n_cohort_users=len(np.unique(trial_owner[kept])),
        location=robust_location(scores[kept], trial_owner[kept]),
        impostor_scores=scores[kept],
        set_aside=[str(cohort[i]) for i in dupes],
        noisy=_noisy(ctx, model, raw, kept_trials, trial_owner[kept]),
    )


def _fresh_user(ctx: AppContext, session: Session, user_id: uuid.UUID, k: int) -> tuple[bool, StoredCalibration | None]:
    """Make the user's stored calibration current (computing it if needed); (deployment mode?, the row)."""
    policy = ctx.settings.voice
    model = ctx.voice.speaker(session, user_id)
    if model is None:
        return False, None
    cohort = speaker_models.ready_user_ids(session, exclude=user_id, limit=policy.max_cohort_users)
    if len(cohort) < policy.min_cohort_users:
        return False, None
    row = calibrations.get_calibration(session, user_id)
    if not _user_row_current(ctx, row, model, k, cohort):
        _compute_user(ctx, session, user_id, model, cohort, k)
        row = calibrations.get_calibration(session, user_id)
        assert row is not None
    return True, row


def _user_row_current(
    ctx: AppContext, row: StoredCalibration | None, model: CachedModel, k: int, cohort: list[uuid.UUID]
) -> bool:
    """Was the stored calibration computed for this model, UBM, challenge length and cohort?"""
    return (
        row is not None
        and row.quality is not None  # from before the noise levels: recomputed with them
        and row.model_version == model.version
        and row.ubm_id == ctx.voice.ubm.ubm_id
        and row.k == k
        and row.cohort_key == _cohort_key(cohort)
    )


def _threshold_row_current(ctx: AppContext, row: DeploymentThreshold | None, n_ready: int) -> bool:
    """Was the stored deployment threshold computed for this UBM, target FAR and ready population?"""
    policy = ctx.settings.voice
    return (
        row is not None
        and row.levels is not None
        and row.ubm_id == ctx.voice.ubm.ubm_id
        and row.target_far == policy.target_far
        and not _threshold_stale(n_ready, row.n_users, policy.max_threshold_users)
    )


def _threshold_stale(n_ready: int, computed_for: int, max_users: int) -> bool:
    # Small deployments track every change; large ones only a 10% change in the ready population.
    if n_ready <= max_users or computed_for <= max_users:
        return n_ready != computed_for
    return abs(n_ready - computed_for) > 0.1 * computed_for


def _pooled_threshold(rows: list[StoredCalibration], target_far: float) -> tuple[DeploymentCalibration, int]:
    """(the deployment calibration, number of clean scores) from users' raw impostor scores, clean and at
    each noise level (rows without levels are stale and recomputed before they get here)."""
    scores = [calibrations.calibration_scores(r) for r in rows]
    noisy = [calibrations.noisy_scores(r) for r in rows]
    levels = [n for n in noisy if n is not None] if all(n is not None for n in noisy) else None
    pooled = calibrate_deployment(
        scores, [r.n_cohort_users for r in rows], target_far, [r.location for r in rows], levels
    )
    return pooled, sum(len(x) for x in scores)


def _levels_doc(pooled: DeploymentCalibration, low: float, high: float) -> dict[str, Any]:
    """What ``deployment_thresholds.levels`` stores: each level's threshold kept in range like the clean one."""
    return {
        "clean_snr": pooled.clean_snr_db,
        "levels": [[lv.snr_db, bounded(lv.threshold, low, high), lv.grand_location] for lv in pooled.levels],
    }


def _user_calibration(mine: StoredCalibration, row: DeploymentThreshold, k: int) -> Calibration:
    """The user's deployment calibration: the clean operating point and one per noise level, every location
    the user's own at that level shrunk towards the deployment's."""
    location = shrunk_location(mine.location, row.grand_location, mine.n_cohort_users)
    doc, quality = row.levels or {}, mine.quality or {}
    own = quality.get("locations", [])
    levels = tuple(
        (float(snr), shrunk_location(float(o), float(grand), mine.n_cohort_users), float(thr))
        for (snr, thr, grand), o in zip(doc.get("levels", []), own, strict=False)
    )
    clean = doc.get("clean_snr")
    return Calibration("deployment", location, row.threshold, k, levels, None if clean is None else float(clean))


def current_calibration(
    ctx: AppContext, session: Session, user_id: uuid.UUID, model: CachedModel | None
) -> Calibration | None:
    """The calibration of the user's ``model`` (just read in the caller's transaction) if nothing needs
    recomputing (read-only); None when something is stale (then ``calibrate`` recomputes it)."""
    policy = ctx.settings.voice
    k = policy.challenge_digits
    if model is None:
        return Calibration("provisional", 0.0, policy.provisional_threshold, k)
    cohort = speaker_models.ready_user_ids(session, exclude=user_id, limit=policy.max_cohort_users)
    if len(cohort) < policy.min_cohort_users:
        return Calibration("provisional", 0.0, policy.provisional_threshold, k)
    mine = calibrations.get_calibration(session, user_id)
    if not _user_row_current(ctx, mine, model, k, cohort):
        return None
    row = calibrations.get_threshold(session, k)
    if row is None or not _threshold_row_current(ctx, row, ctx.voice.ready_count(session, policy.max_threshold_users)):
        return None
    assert mine is not None
    return _user_calibration(mine, row, k)


def calibrate(ctx: AppContext, user_id: uuid.UUID) -> Calibration:
    """The user's current calibration, computing what is stale.

    The common case (nothing changed) is a read-only transaction; recomputation takes a write
    transaction, so on SQLite it is serialised with other writers.
    """
    policy = ctx.settings.voice
    k = policy.challenge_digits
    ubm_id = ctx.voice.ubm.ubm_id
    with ctx.db.read_session() as session:
        current = current_calibration(ctx, session, user_id, ctx.voice.speaker(session, user_id))
    if current is not None:
        return current
    with ctx.db.write_session() as session:
        deployment, mine = _fresh_user(ctx, session, user_id, k)
        if not deployment or mine is None:
            return Calibration("provisional", 0.0, policy.provisional_threshold, k)
        n_ready = speaker_models.count_ready(session)
        row = calibrations.get_threshold(session, k)
        if row is None or not _threshold_row_current(ctx, row, n_ready):
            for other in speaker_models.ready_user_ids(session, limit=policy.max_threshold_users):
                if other != user_id:
                    _fresh_user(ctx, session, other, k)
            rows = calibrations.pooled(session, ubm_id, k, policy.max_threshold_users)
            pooled, n_scores = _pooled_threshold(rows, policy.target_far)
            calibrations.put_threshold(
                session,
                k=k,
                ubm_id=ubm_id,
                target_far=policy.target_far,
                threshold=bounded(pooled.threshold, *policy.threshold_range),
                grand_location=pooled.grand_location,
                n_users=n_ready,
                n_scores=n_scores,
                levels=_levels_doc(pooled, *policy.threshold_range),
            )
            row = calibrations.get_threshold(session, k)
            assert row is not None
        return _user_calibration(mine, row, k)
