"""The original's two analysis views, with the real decision rule.

Intrusion test: other ready users' takes, assembled into trials of the challenge
length, against my model. Benchmark: my takes against each other user's model.
The reference row is my own genuine score on takes held out of my model: thanks to
the sufficient statistics, a trial's takes are subtracted from the model before
scoring it (leave-out), so no take is scored by a model that has seen it, nor its
noisy copies (a take is removed with everything it added).

A user sees only ``intrusion_summary`` / ``benchmark_summary``: counts over all other voices together,
rate limited, with no alias, score or threshold: per-speaker scores would let an attacker with an account
of their own steer crafted takes towards someone else's model. The full tables (``intrusion_test``,
``benchmark``) are for the operator's ``speakerverify analysis``.
"""

from __future__ import annotations

import uuid

import numpy as np

from ..models.cohort import assemble_trials, take_llr_sums, trial_scores
from ..models.scoring import ModelTerms
from ..models.speaker import Stats, digit_means
from ..storage import speaker_models, users, utterances
from ..storage.tables import Utterance
from ..voice.decision import Calibration
from ..voice.runtime import CachedModel
from ..voice.takes import row_stats, take_features
from . import limits
from .calibration import serving_calibration
from .context import AppContext
from .errors import NotReady
from .results import AnalysisSummary, BenchmarkReport, ImpostorRow, IntrusionReport, ScoreSummary, TrialCounts

MAX_OTHERS = 20
TRIALS_PER_OTHER = 10
REFERENCE_TRIALS = 20


def _summary(scores: np.ndarray, threshold: float) -> tuple[int, int, float | None]:
    return len(scores), int(np.sum(scores >= threshold)), float(scores.mean()) if len(scores) else None


def _rows(ctx: AppContext, session, user_id: uuid.UUID) -> list[Utterance]:
    rows = utterances.list_utterances(session, user_id)
    return [r for r in rows if r.config_id == ctx.voice.config.config_id]


def _takes(ctx: AppContext, session, user_id: uuid.UUID) -> list[tuple[int, np.ndarray]]:
    return [(r.digit, take_features(r, ctx.voice.post)) for r in _rows(ctx, session, user_id)]


def _reference(ctx: AppContext, model: CachedModel, rows: list[Utterance], calib: Calibration) -> np.ndarray:
    """Leave-out genuine trials over the takes in the model (suspect takes are not): each trial's takes are
    removed from the model that scores them with what they added (``row_stats``: the take and its noisy
    copies), so the reduced model is the one derived from the other takes."""
    gmm, rt = ctx.voice.ubm.gmm, ctx.voice
    rows = [r for r in rows if r.suspect_digit is None]
    takes = [(r.digit, take_features(r, rt.post)) for r in rows]
    digits = np.array([d for d, _ in takes])
    rng = np.random.default_rng(0)
    trials = assemble_trials(digits, np.zeros(len(takes), dtype=int), calib.k, REFERENCE_TRIALS, rng)
    added: dict[int, Stats] = {}  # only the trials' takes: each costs its noisy copies' statistics
    scores = []
    for trial in trials:
        reduced = model.model
        for i in map(int, trial):
            if i not in added:
                added[i] = row_stats(gmm, rows[i], rt.post, rt.recipes.voice)
            reduced = reduced.remove(takes[i][0], added[i])
        means = digit_means(gmm, reduced, rt.adaptation)
        segs = [takes[int(i)] for i in trial]
        sums, counts = take_llr_sums(gmm, means, segs, rt.adaptation.top_c)
        scores.append(calib.normalise(float(sums.sum() / max(counts.sum(), 1))))
    return np.array(scores)


def _ready_model(ctx: AppContext, session, user_id: uuid.UUID) -> CachedModel:
    model = ctx.voice.speaker(session, user_id)
    if model is None or not bool(np.all(model.takes >= ctx.settings.voice.takes_per_digit)):
        raise NotReady("Finish enrolment first: the analysis needs a ready model.")
    return model


def _impostor_row(
    ctx: AppContext,
    alias: str,
    digit_models: ModelTerms,
    takes: list[tuple[int, np.ndarray]],
    calib: Calibration,
    rng: np.random.Generator,
) -> ImpostorRow:
    """One speaker's takes, assembled into trials, against a model decided with ``calib``."""
    rt = ctx.voice
    sums, counts = take_llr_sums(rt.ubm.gmm, digit_models, takes, rt.adaptation.top_c)
    digits = np.array([d for d, _ in takes])
    trials = assemble_trials(digits, np.zeros(len(takes), dtype=int), calib.k, TRIALS_PER_OTHER, rng)
    n, accepted, mean = _summary(np.asarray(calib.normalise(trial_scores(sums, counts, trials))), calib.threshold)
    return ImpostorRow(alias=alias, trials=n, false_accepts=accepted, mean_score=mean)


def _reference_summary(ctx: AppContext, model: CachedModel, rows: list[Utterance], calib: Calibration) -> ScoreSummary:
    n, accepted, mean = _summary(_reference(ctx, model, rows, calib), calib.threshold)
    return ScoreSummary(trials=n, accepts=accepted, mean_score=mean)


def intrusion_test(ctx: AppContext, user_id: uuid.UUID) -> IntrusionReport:
    calib = serving_calibration(ctx, user_id)
    with ctx.db.read_session() as session:
        model = _ready_model(ctx, session, user_id)
        reference = _reference_summary(ctx, model, _rows(ctx, session, user_id), calib)
        others = speaker_models.ready_user_ids(session, exclude=user_id, limit=MAX_OTHERS)
        rows = []
        rng = np.random.default_rng(1)
        for other in others:
            user = users.get_user(session, other)
            takes = _takes(ctx, session, other)
            if user is None or not takes:
                continue
            rows.append(_impostor_row(ctx, user.alias, model.terms, takes, calib, rng))
    return IntrusionReport(
        threshold=calib.threshold,
        calibration="deployment" if calib.mode == "deployment" else "provisional",
        k=calib.k,
        reference=reference,
        impostors=rows,
    )


def benchmark(ctx: AppContext, user_id: uuid.UUID) -> BenchmarkReport:
    calib = serving_calibration(ctx, user_id)
    rt = ctx.voice
    with ctx.db.read_session() as session:
        model = _ready_model(ctx, session, user_id)
        mine_rows = _rows(ctx, session, user_id)
        mine = [(r.digit, take_features(r, rt.post)) for r in mine_rows]
        reference = _reference_summary(ctx, model, mine_rows, calib)
        others = speaker_models.ready_user_ids(session, exclude=user_id, limit=MAX_OTHERS)
    rows = []
    for other in others:
        their_calib = serving_calibration(ctx, other)
        with ctx.db.read_session() as session:
            user = users.get_user(session, other)
            theirs = rt.speaker(session, other)
        if user is None or theirs is None:
            continue
        rows.append(_impostor_row(ctx, user.alias, theirs.terms, mine, their_calib, np.random.default_rng(2)))
    return BenchmarkReport(k=calib.k, reference=reference, others=rows)


def _aggregate(k: int, reference: ScoreSummary, rows: list[ImpostorRow]) -> AnalysisSummary:
    return AnalysisSummary(
        k=k,
        other_voices=len(rows),
        others=TrialCounts(trials=sum(r.trials for r in rows), would_pass=sum(r.false_accepts for r in rows)),
        own=TrialCounts(trials=reference.trials, would_pass=reference.accepts),
    )


def _count(ctx: AppContext, user_id: uuid.UUID) -> None:
    """One analysis run of the user (either kind: they share a budget), refused over the hourly limit."""
    with ctx.db.write_session() as session:
        limits.count(session, "analysis", user_id, ctx.settings.user_limits.analysis_per_hour)


def intrusion_summary(ctx: AppContext, user_id: uuid.UUID) -> AnalysisSummary:
    """Other voices' takes against my model: how many voices, trials, and trials that would pass."""
    _count(ctx, user_id)
    report = intrusion_test(ctx, user_id)
    return _aggregate(report.k, report.reference, report.impostors)


def benchmark_summary(ctx: AppContext, user_id: uuid.UUID) -> AnalysisSummary:
    """My takes against other voices' models, each with its own threshold: the same counts."""
    _count(ctx, user_id)
    report = benchmark(ctx, user_id)
    return _aggregate(report.k, report.reference, report.others)
