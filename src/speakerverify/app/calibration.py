"""Deployment calibration: each user's scores normalised against the other users' takes.

A mismatched cohort (another corpus, another room) makes impostors look far less
like targets than the deployment's own impostors do, so thresholds set on it are
much too low. Here the cohort is the deployment itself: up to ``max_cohort_users``
other ready users' stored takes (the users following it on a ring of ids, ``speaker_models.cohort_ids``,
so one user joining changes only its neighbours' cohorts), assembled into impostor trials of the challenge
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

Requests never wait for a recomputation: a stale calibration serves until the background (``ctx.background``)
has recomputed it, each user's row from a read and stored in a short write transaction; a deployment's first
threshold too (the provisional one serves until then). The recomputations run in a child process
(``Settings.calibration_process``), so the serving process's requests do not queue for its GIL behind them.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from ..config import Settings, VoicePolicy
from ..features import PostConfig, postprocess
from ..features.quality import segment_snr
from ..models.calibration import (
    DEGRADED_COHORT_BIAS,
    SNR_LEVELS,
    DeploymentCalibration,
    NoisyScores,
    bounded,
    calibrate_deployment,
    near_duplicates,
    robust_location,
    shrunk_location,
)
from ..models.cohort import assemble_trials, noisy_trial_scores, take_llr_signature_sums, trial_scores, trial_snr
from ..models.gmm import DiagGMM
from ..models.noise_signature import NOISE_NORMALISATION, noise_model_terms
from ..models.scoring import ModelTerms
from ..storage import calibrations, speaker_models, utterances
from ..storage.db import Database
from ..storage.tables import Calibration as StoredCalibration
from ..storage.tables import DeploymentThreshold
from ..voice.decision import Calibration
from ..voice.runtime import CachedModel, VoiceRuntime, resolve_ubm
from . import timing
from .background import StopJob
from .context import AppContext
from .security import Passwords

log = logging.getLogger("speakerverify.calibration")


def _cohort_key(ids: list[uuid.UUID]) -> str:
    return hashlib.sha256(",".join(sorted(str(i) for i in ids)).encode()).hexdigest()[:32]


def _user_rng(user_id: uuid.UUID, k: int) -> np.random.Generator:
    return np.random.default_rng([user_id.int & (2**63 - 1), k])


@dataclass(frozen=True)
class CohortScores:
    """A user's impostor trials from its cohort's takes: the kept clean trial scores (n,), each trial's
    cohort speaker (n,), the cohort speakers set aside as near-duplicates, and the same trials degraded to
    each noise level."""

    scores: np.ndarray
    owners: np.ndarray
    set_aside: np.ndarray
    noisy: NoisyScores

    @property
    def location(self) -> float:
        return robust_location(self.scores, self.owners)

    @property
    def n_cohort_users(self) -> int:
        return len(np.unique(self.owners))


def score_cohort(
    gmm: DiagGMM,
    terms: ModelTerms,
    raw: list[tuple[int, np.ndarray, np.ndarray]],
    owners: list[int],
    k: int,
    rng: np.random.Generator,
    policy: VoicePolicy,
    post: PostConfig,
    top_c: int,
) -> CohortScores:
    """The cohort's stored takes (digit, raw MFCC (T, 13), raw energy (T,)), each with its speaker's index
    in the cohort, assembled into ``policy.cohort_trials_per_user`` impostor trials of ``k`` digits and
    scored against the user's digit models ``terms``; cohort speakers who sound like the user set aside.
    Pure (no database): the service and ``benchmarks/noise_operating_point.py`` both calibrate with it."""
    segments = [(d, postprocess(m, e, post)) for d, m, e in raw]
    noise_model = noise_model_terms(gmm)
    sums, counts, sig = take_llr_signature_sums(gmm, terms, segments, top_c, noise_model)
    digits, owner_of = np.array([d for d, _ in segments]), np.array(owners, dtype=int)
    trials = assemble_trials(digits, owner_of, k, policy.cohort_trials_per_user, rng)
    scores = trial_scores(sums, counts, trials)
    trial_owner = np.array([owner_of[t[0]] for t in trials], dtype=int)
    finite = np.isfinite(scores)
    scores, trial_owner = scores[finite], trial_owner[finite]
    dupes = near_duplicates(scores, trial_owner, policy.provisional_threshold)
    kept = ~np.isin(trial_owner, dupes)
    kept_trials = [t for t, f in zip(trials, finite, strict=True) if f]
    kept_trials = [t for t, keep in zip(kept_trials, kept, strict=True) if keep]
    # The same trials with the cohort's takes degraded to each of SNR_LEVELS (the noisy-copy construction),
    # each level's location as robust as the clean one's; the clean trials' measured SNR; and, with the
    # noise model, the median noise signature of each level's trials and of the clean ones.
    snr, noisy, noisy_sig = noisy_trial_scores(gmm, terms, raw, kept_trials, SNR_LEVELS, post, top_c, noise_model)
    clean = trial_snr(np.array([segment_snr(e, m) for _, m, e in raw]), kept_trials)
    locations = np.array([robust_location(x, trial_owner[kept]) for x in noisy])
    signed = noise_model is not None and len(kept_trials) > 0
    levels = NoisyScores(
        np.median(snr, axis=1),
        noisy,
        locations,
        float(np.median(clean)) if len(clean) else 0.0,
        np.median(noisy_sig, axis=1) if signed else None,
        float(np.median(trial_scores(sig, counts, kept_trials))) if signed else None,
    )
    return CohortScores(scores[kept], trial_owner[kept], dupes, levels)


def _compute_user(
    ctx: AppContext, session: Session, user_id: uuid.UUID, model: CachedModel, cohort: list[uuid.UUID], k: int
) -> dict[str, Any]:
    """The user's calibration row from a read of the cohort's takes (no write: the caller stores it)."""
    rt, policy = ctx.voice, ctx.settings.voice
    takes = utterances.takes_of_users(session, cohort, policy.takes_per_digit)
    raw, owners = [], []
    for owner_index, owner in enumerate(cohort):
        for row in takes[owner]:
            if row.config_id == rt.config.config_id:
                raw.append((row.digit, *utterances.utterance_arrays(row)))
                owners.append(owner_index)
    c = score_cohort(
        rt.ubm.gmm, model.terms, raw, owners, k, _user_rng(user_id, k), policy, rt.post, rt.adaptation.top_c
    )
    if len(c.set_aside):
        log.warning("calibration of %s sets aside %d near-duplicate cohort users", user_id, len(c.set_aside))
    return {
        "ubm_id": rt.ubm.ubm_id,
        "model_version": model.version,
        "k": k,
        "cohort_key": _cohort_key(cohort),
        "n_cohort_users": c.n_cohort_users,
        "location": c.location,
        "impostor_scores": c.scores,
        "set_aside": [str(cohort[i]) for i in c.set_aside],
        "noisy": c.noisy,
    }


def refresh_user(ctx: AppContext, user_id: uuid.UUID, k: int) -> bool:
    """Make the user's stored calibration current: read and score the cohort in a read transaction, then
    store the row in a short write transaction (on SQLite other writers wait for the write, not the
    scoring). False if the user has no model or too small a cohort (provisional)."""
    policy = ctx.settings.voice
    with ctx.db.read_session() as session:
        model = ctx.voice.speaker(session, user_id)
        if model is None:
            return False
        cohort = speaker_models.cohort_ids(session, user_id, policy.max_cohort_users)
        if len(cohort) < policy.min_cohort_users:
            return False
        if _user_row_current(ctx, calibrations.get_calibration(session, user_id), model, k, cohort):
            return True
        values = _compute_user(ctx, session, user_id, model, cohort, k)
    with ctx.db.write_session() as session:
        # Of two workers computing the same row, either may store last: both computed it from the same data.
        calibrations.put_calibration(session, user_id, **values)
    return True


def refresh_threshold(ctx: AppContext, k: int, refresh: Callable[[uuid.UUID], object] | None = None) -> None:
    """Recompute the deployment threshold for challenges of ``k`` digits from the pooled users' calibrations
    (each made current first by ``refresh``, default ``refresh_user``: one short write each), then store
    it in one short write."""
    policy, ubm_id = ctx.settings.voice, ctx.voice.ubm.ubm_id
    size = policy.max_threshold_users
    with ctx.db.read_session() as session:
        n_ready = speaker_models.count_ready(session)
        pool = speaker_models.ready_user_ids(session, limit=size)
    make_current = refresh or (lambda user_id: refresh_user(ctx, user_id, k))
    for other in pool:
        make_current(other)
    with ctx.db.read_session() as session:
        rows = calibrations.pooled(session, ubm_id, k, size)
        if not rows:
            return
        pooled, n_scores = _pooled_threshold(rows, policy.target_far)
    with ctx.db.write_session() as session:
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


def _user_row_current(
    ctx: AppContext, row: StoredCalibration | None, model: CachedModel, k: int, cohort: list[uuid.UUID]
) -> bool:
    """Was the stored calibration computed for this model, UBM, challenge length and cohort?"""
    return (
        _user_row_usable(ctx, row, k)
        and row is not None
        and row.quality is not None  # from before the noise levels: recomputed with them
        and _signed_as_now(ctx, row.quality)
        and row.model_version == model.version
        and row.cohort_key == _cohort_key(cohort)
    )


def _signed_as_now(ctx: AppContext, doc: dict[str, Any]) -> bool:
    """Where the UBM has a noise model, does a stored calibration document (a user's ``quality``, the
    deployment's ``levels``) carry the noise signatures and scores ``noise_normalised`` by today's weight?
    Documents from before either are stale and recomputed."""
    return noise_model_terms(ctx.voice.ubm.gmm) is None or (
        doc.get("clean_signature") is not None and doc.get("noise_normalisation") == NOISE_NORMALISATION
    )


def _user_row_usable(ctx: AppContext, row: StoredCalibration | None, k: int) -> bool:
    """Can the stored calibration serve (perhaps stale: an older model or cohort) until it is recomputed?
    Only for the active UBM and this challenge length: a row for another UBM measured other scores."""
    return row is not None and row.ubm_id == ctx.voice.ubm.ubm_id and row.k == k


def _threshold_row_usable(ctx: AppContext, row: DeploymentThreshold | None) -> bool:
    """Can the stored deployment threshold serve (perhaps for an older population) until recomputed?"""
    return row is not None and row.ubm_id == ctx.voice.ubm.ubm_id and row.target_far == ctx.settings.voice.target_far


def _threshold_row_current(ctx: AppContext, row: DeploymentThreshold | None, n_ready: int) -> bool:
    """Was the stored deployment threshold computed for this UBM, target FAR and ready population?"""
    policy = ctx.settings.voice
    return (
        _threshold_row_usable(ctx, row)
        and row is not None
        and row.levels is not None  # from before the noise levels: recomputed with them
        # levels lowered by another degraded-cohort correction (or none): recomputed with the current one
        and (row.levels.get("bias") == list(DEGRADED_COHORT_BIAS) or not row.levels.get("levels"))
        and (not row.levels.get("levels") or _signed_as_now(ctx, row.levels))
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
    """What ``deployment_thresholds.levels`` stores: each level's threshold (lowered by the degraded cohort's
    bias) kept in range like the clean one, and the biases it was lowered by."""
    return {
        "clean_snr": pooled.clean_snr_db,
        "bias": [lv.bias for lv in pooled.levels],
        "levels": [[lv.snr_db, bounded(lv.threshold, low, high), lv.grand_location] for lv in pooled.levels],
        "clean_signature": pooled.clean_signature,
        "signature": [lv.signature for lv in pooled.levels],
        "noise_normalisation": NOISE_NORMALISATION if pooled.clean_signature is not None else None,
    }


def _user_calibration(mine: StoredCalibration | None, row: DeploymentThreshold, k: int) -> Calibration:
    """The user's deployment calibration: the clean operating point and one per noise level, every location
    the user's own at that level shrunk towards the deployment's. ``mine`` None (no cohort scores of the
    user yet): what the shrinkage gives with no cohort speakers, the grand location at every level."""
    n_cohort = 0 if mine is None else mine.n_cohort_users
    location = shrunk_location(0.0 if mine is None else mine.location, row.grand_location, n_cohort)
    doc = row.levels or {}
    if mine is None:
        own: list[float] = [0.0] * len(doc.get("levels", []))
    else:
        own = (mine.quality or {}).get("locations", [])
    levels = tuple(
        (float(snr), shrunk_location(float(o), float(grand), n_cohort), float(thr))
        for (snr, thr, grand), o in zip(doc.get("levels", []), own, strict=False)
    )
    clean, clean_sig, sigs = doc.get("clean_snr"), doc.get("clean_signature"), doc.get("signature") or []
    signatures = tuple(float(x) for x in sigs) if clean_sig is not None and None not in sigs else ()
    return Calibration(
        "deployment",
        location,
        row.threshold,
        k,
        levels,
        None if clean is None else float(clean),
        signatures if len(signatures) == len(levels) else (),
        None if clean_sig is None or len(signatures) != len(levels) else float(clean_sig),
    )


@timing.timed_call("calibration")
def current_calibration(
    ctx: AppContext, session: Session, user_id: uuid.UUID, model: CachedModel | None
) -> Calibration:
    """The calibration to serve for the user's ``model`` (just read in the caller's transaction), read-only.

    A stored calibration that is stale (an older model or cohort, a changed population) keeps serving and
    its recomputation is queued in the background (``ctx.background``), so no request waits for it; a user
    with no row yet (just ready) is served the deployment's grand location (what shrinkage gives with no
    cohort speakers) until the background has scored its cohort. With no deployment threshold for this UBM
    yet (a new deployment, a new UBM), the provisional threshold serves while the background computes the
    first one: the provisional threshold is the one a deployment too small to calibrate already uses,
    above every FSDD impostor score (``VoicePolicy.provisional_threshold``), so the first answers err
    towards rejecting rather than wait tens of seconds.
    """
    policy = ctx.settings.voice
    k = policy.challenge_digits
    provisional = Calibration("provisional", 0.0, policy.provisional_threshold, k)
    if model is None:
        return provisional
    cohort = speaker_models.cohort_ids(session, user_id, policy.max_cohort_users)
    if len(cohort) < policy.min_cohort_users:
        return provisional
    row = calibrations.get_threshold(session, k)
    if not _threshold_row_usable(ctx, row):
        _queue(ctx, ("threshold", k), "threshold", k)  # pools (and first computes) the users' own rows
        return provisional
    assert row is not None
    if not _threshold_row_current(ctx, row, ctx.voice.ready_count(session, policy.max_threshold_users)):
        _queue(ctx, ("threshold", k), "threshold", k)
    mine = calibrations.get_calibration(session, user_id)
    if mine is None or not _user_row_current(ctx, mine, model, k, cohort):
        _queue(ctx, ("user", user_id, k), "user", user_id, k)
    if mine is None or not _user_row_usable(ctx, mine, k):
        # No cohort scores of this user yet: the shrinkage's answer for no cohort speakers, the grand location.
        return _user_calibration(None, row, k)
    return _user_calibration(mine, row, k)


@timing.timed_call("calibration")
def serving_calibration(ctx: AppContext, user_id: uuid.UUID) -> Calibration:
    """What a request uses outside a transaction of its own: ``current_calibration`` in a read (nothing
    is computed while the request waits; stale or missing calibrations are queued for the background)."""
    with ctx.db.read_session() as session:
        return current_calibration(ctx, session, user_id, ctx.voice.speaker(session, user_id))


def calibrate(ctx: AppContext, user_id: uuid.UUID) -> Calibration:
    """The user's calibration made current now, the deployment threshold too (operators, tests): what
    requests leave to the background (``serving_calibration``), done and waited for."""
    k = ctx.settings.voice.challenge_digits
    refresh_user(ctx, user_id, k)
    refresh_threshold(ctx, k)
    ctx.background.wait_idle()
    return serving_calibration(ctx, user_id)


# --- the background's jobs -------------------------------------------------------------------------


def _queue(ctx: AppContext, key: tuple[object, ...], kind: str, *args: Any) -> None:
    """Queue ``refresh_user`` (kind "user") or ``refresh_threshold`` ("threshold") for the background."""
    ctx.background.submit(key, lambda: _run_job(ctx, kind, args))


def _run_job(ctx: AppContext, kind: str, args: tuple[Any, ...]) -> None:
    """A queued job. Each user's row is computed in the child process where the settings ask for it
    (``Settings.calibration_process``) and the child's runtime is this one's (same UBM), else on the calling
    (background) thread; a threshold's pooled users are one such job each (short jobs: a stopping server
    waits for one user's at most), the pooling itself here (a read and a little arithmetic)."""
    if kind == "threshold":
        (k,) = args
        refresh_threshold(ctx, k, lambda user_id: _run_job(ctx, "user", (user_id, k)))
        return
    user_id, k = args
    if ctx.settings.calibration_process:
        try:
            if ctx.child.call(_child_job, ctx.settings, ctx.voice.ubm.ubm_id, user_id, k):
                return
        except BrokenProcessPool:  # the child was stopped (with the server: same process group) or died
            log.warning("the calibration process ended during a job; it is queued again when next found stale")
            raise StopJob() from None
    refresh_user(ctx, user_id, k)


_child_contexts: dict[Settings, AppContext] = {}  # in the child process: one context per deployment's settings


def _child_job(settings: Settings, ubm_id: str, user_id: uuid.UUID, k: int) -> bool:
    """In the child: ``refresh_user`` on a context built as the service builds its own (database, active
    UBM); False (not run) if that UBM is not the parent's, whose runtime then runs it itself."""
    ctx = _child_contexts.get(settings)
    if ctx is None:
        threadpool_limits(1, user_api="blas")  # as in the serving process: one BLAS thread per job
        db = Database(settings.database_url)
        voice = VoiceRuntime(resolve_ubm(db, settings.ubm_file))
        ctx = AppContext(
            settings=replace(settings, calibration_process=False),
            db=db,
            passwords=Passwords(settings.argon2),
            voice=voice,
        )
        _child_contexts[settings] = ctx
    if ctx.voice.ubm.ubm_id != ubm_id:
        return False
    refresh_user(ctx, user_id, k)
    return True
