"""``speakerverify eer``: the original's eer.py done right, on the live database.

* Genuine trials: K takes of K distinct digits of one user, scored against that user's model
  with those takes *subtracted* from it first (every stored take adapts the model; the
  sufficient statistics make leave-out exact). Accepted verification attempts would be held-out
  material too, but the service stores their scores, not their features, so they cannot be rescored.
* Impostor trials: for every genuine trial, the same K digits from each other ready user
  (a random take of each), against the claimed user's full model.
* Scores are what the deployment compares with its threshold: the raw mean frame LLR minus the
  user's shrunk impostor mean (``models.calibration.calibrate_deployment``, as the service) in deployment mode, the raw
  score in provisional mode.
* Nothing is tuned on the data it reports. An impostor speaker's trials are normalised with a
  location and compared with a threshold computed without that speaker (leave one impostor speaker
  out); genuine trials never enter a location or a threshold. EER, minDCF and FRR at FAR = 1% are
  threshold-free summaries of the score distributions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from ..app.context import AppContext
from ..app.enrolment import ensure_current
from ..config import Settings
from ..evaluation import metrics
from ..models.calibration import calibrate_deployment, impostor_location
from ..models.cohort import take_llr_sums, trial_scores
from ..models.speaker import N_DIGITS, Stats, digit_means
from ..storage import calibrations, speaker_models, users, utterances
from ..storage.tables import VerificationAttempt
from ..voice.runtime import CachedModel
from ..voice.takes import row_stats, take_features
from .common import OperatorError, make_context, open_database, progress

P_TARGET = 0.01  # minDCF operating point, as in `speakerverify eval`


@dataclass
class _Take:
    digit: int
    feats: np.ndarray
    stats: Stats


@dataclass
class _User:
    user_id: uuid.UUID
    alias: str
    model: CachedModel
    takes: list[_Take]

    def by_digit(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for i, t in enumerate(self.takes):
            found.setdefault(t.digit, []).append(i)
        return found


def _score(ctx: AppContext, means: np.ndarray, takes: list[_Take]) -> float:
    """Mean frame LLR of the takes pooled, each against the model of its digit: the service's trial score."""
    rt = ctx.voice
    sums, counts = take_llr_sums(rt.ubm.gmm, means, [(t.digit, t.feats) for t in takes], rt.adaptation.top_c)
    return float(trial_scores(sums, counts, [np.arange(len(takes))])[0])


def _load(ctx: AppContext) -> tuple[list[_User], dict[uuid.UUID, int]]:
    rt = ctx.voice
    gmm = rt.ubm.gmm
    with ctx.db.read_session() as session:
        ids = speaker_models.ready_user_ids(session)
    for user_id in ids:  # models adapted from another UBM are rebuilt, as the service would
        with ctx.db.write_session() as session:
            ensure_current(session, ctx, user_id)
    loaded: list[_User] = []
    with ctx.db.read_session() as session:
        ids = speaker_models.ready_user_ids(session)
        accepted = {
            uid: int(n)
            for uid, n in session.execute(
                select(VerificationAttempt.user_id, func.count())
                .where(VerificationAttempt.decision == "accept")
                .group_by(VerificationAttempt.user_id)
            )
        }
        for user_id in progress(ids, "loading users", len(ids), "user"):
            user = users.get_user(session, user_id)
            model = rt.speaker(session, user_id)
            if user is None or model is None:
                continue
            takes = []
            for row in utterances.list_utterances(session, user_id):
                if row.config_id != rt.config.config_id:
                    continue
                feats = take_features(row, rt.post)
                takes.append(_Take(row.digit, feats, row_stats(gmm, row, rt.post, rt.recipes.voice)))  # take + copies
            loaded.append(_User(user_id, user.alias, model, takes))
    return loaded, accepted


def eer_report(settings: Settings, k: int | None = None, seed: int = 0, trials: int = 50) -> dict[str, Any]:
    policy = settings.voice
    k = policy.challenge_digits if k is None else k
    if not 1 <= k <= N_DIGITS:
        raise OperatorError(f"--digits must be between 1 and {N_DIGITS}, got {k}")
    if trials < 1:
        raise OperatorError(f"--trials must be at least 1, got {trials}")
    with open_database(settings) as db:
        ctx = make_context(settings, db)
        people, accepted = _load(ctx)
        if len(people) < 2:
            raise OperatorError(f"the report needs at least 2 ready users; the database has {len(people)}")
        with db.read_session() as session:
            stored = calibrations.get_threshold(session, k)
            stored_info = (
                None
                if stored is None or stored.ubm_id != ctx.voice.ubm.ubm_id
                else {"threshold": stored.threshold, "target_far": stored.target_far, "n_users": stored.n_users}
            )
        return _evaluate(ctx, people, accepted, k, seed, trials, stored_info)


def _raw_scores(
    ctx: AppContext, people: list[_User], k: int, seed: int, n_trials: int
) -> tuple[list[list[np.ndarray]], list[list[list[list[int]]]]]:
    """raw[i][j]: scores of j's k-digit trials against i's model (j == i: leave-out genuine trials), and
    the digits of each trial."""
    rt = ctx.voice
    gmm = rt.ubm.gmm
    n = len(people)
    digit_index = [p.by_digit() for p in people]
    raw: list[list[list[float]]] = [[[] for _ in range(n)] for _ in range(n)]
    trial_digits: list[list[list[list[int]]]] = [[[] for _ in range(n)] for _ in range(n)]
    for i, person in enumerate(progress(people, f"scoring {k}-digit trials", n, "user")):
        rng = np.random.default_rng([seed, i])
        have = sorted(d for d, idx in digit_index[i].items() if idx)
        if len(have) < k:
            continue
        full_means = person.model.digit_means
        full_stats = person.model.model
        for _ in range(n_trials):
            digits = [int(d) for d in rng.choice(have, size=k, replace=False)]
            chosen = [int(rng.choice(digit_index[i][d])) for d in digits]
            reduced = full_stats
            for c in chosen:
                reduced = reduced.remove(person.takes[c].digit, person.takes[c].stats)
            means = digit_means(gmm, reduced, rt.adaptation)
            raw[i][i].append(_score(ctx, means, [person.takes[c] for c in chosen]))
            trial_digits[i][i].append(digits)
            for j, other in enumerate(people):
                if j == i or any(not digit_index[j].get(d) for d in digits):
                    continue
                theirs = [other.takes[int(rng.choice(digit_index[j][d]))] for d in digits]
                raw[i][j].append(_score(ctx, full_means, theirs))
                trial_digits[i][j].append(digits)
    return [[np.asarray(raw[i][j], dtype=np.float64) for j in range(n)] for i in range(n)], trial_digits


@dataclass
class _Tally:
    """Per-user rows, every trial, and the pooled scores and errors, as the users are summarised."""

    per_user: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    target: list[np.ndarray]
    impostor: list[np.ndarray]
    false_accepts: int = 0
    false_rejects: int = 0


def _summarise(
    people: list[_User],
    accepted: dict[uuid.UUID, int],
    arrays: list[list[np.ndarray]],
    trial_digits: list[list[list[list[int]]]],
    shift: dict[tuple[int, int], float],
    thresholds: dict[int | None, float],
) -> _Tally:
    tally = _Tally([], [], [], [])
    for i, person in enumerate(people):
        target = arrays[i][i] - shift[(i, i)]
        fr_i = int(np.sum(target < thresholds[None]))
        imp_parts, fa_i = [], 0
        for j in range(len(people)):
            if j == i:
                continue
            scores = arrays[i][j] - shift[(i, j)]
            imp_parts.append(scores)
            fa_i += int(np.sum(scores >= thresholds[j]))
            for digits, r, s in zip(trial_digits[i][j], arrays[i][j], scores, strict=True):
                tally.trials.append(_trial(person, people[j], "impostor", digits, r, s))
        for digits, r, s in zip(trial_digits[i][i], arrays[i][i], target, strict=True):
            tally.trials.append(_trial(person, person, "target", digits, r, s))
        impostor = np.concatenate(imp_parts) if imp_parts else np.zeros(0)
        tally.false_accepts += fa_i
        tally.false_rejects += fr_i
        tally.target.append(target)
        tally.impostor.append(impostor)
        row: dict[str, Any] = {
            "alias": person.alias,
            "n_target": len(target),
            "n_impostor": len(impostor),
            "accepted_attempts": accepted.get(person.user_id, 0),
        }
        row.update(_metrics(target, impostor, fa_i, fr_i))
        tally.per_user.append(row)
    return tally


def _evaluate(
    ctx: AppContext,
    people: list[_User],
    accepted: dict[uuid.UUID, int],
    k: int,
    seed: int,
    n_trials: int,
    stored_threshold: dict[str, Any] | None,
) -> dict[str, Any]:
    rt, policy = ctx.voice, ctx.settings.voice
    n = len(people)
    arrays, trial_digits = _raw_scores(ctx, people, k, seed, n_trials)
    deployment = n - 1 >= policy.min_cohort_users
    if deployment:
        shift, thresholds = _cross_validated(arrays, policy.target_far)
    else:  # the deployment itself uses the raw score and a fixed provisional threshold: nothing to fit
        shift = {(i, j): 0.0 for i in range(n) for j in range(n)}
        thresholds = {key: policy.provisional_threshold for key in [*range(n), None]}
    tally = _summarise(people, accepted, arrays, trial_digits, shift, thresholds)
    target_all, impostor_all = np.concatenate(tally.target), np.concatenate(tally.impostor)
    pooled: dict[str, Any] = {"n_target": len(target_all), "n_impostor": len(impostor_all)}
    pooled.update(_metrics(target_all, impostor_all, tally.false_accepts, tally.false_rejects))
    return {
        "k": k,
        "seed": seed,
        "trials_per_user": n_trials,
        "ubm_id": rt.ubm.ubm_id,
        "n_users": n,
        "calibration": "deployment" if deployment else "provisional",
        "target_far": policy.target_far,
        "deployment_threshold": {
            "genuine": thresholds[None],
            "method": _threshold_method(deployment, policy.min_cohort_users),
            "stored": stored_threshold,
        },
        "pooled": pooled,
        "per_user": tally.per_user,
        "held_out_material": {
            "enrolment_takes": "leave-out: each genuine trial's takes are subtracted from the model that scores it",
            "accepted_attempts": sum(accepted.get(p.user_id, 0) for p in people),
            "accepted_attempts_used": 0,
            "note": "verification attempts store their scores but not their features, so they cannot be rescored",
        },
        "trials": tally.trials,
    }


def _threshold_method(deployment: bool, min_cohort_users: int) -> str:
    if deployment:
        return (
            "the service's normalisation and target-FAR threshold (models.calibration); each impostor "
            "speaker's trials judged by a location and threshold computed without that speaker"
        )
    return (
        f"the provisional threshold on raw scores (fewer than {min_cohort_users} other ready users: "
        "the deployment is not calibrated yet)"
    )


def _trial(claimant: _User, speaker: _User, kind: str, digits: list[int], raw: float, score: float) -> dict[str, Any]:
    return {
        "claimant": claimant.alias,
        "speaker": speaker.alias,
        "kind": kind,
        "digits": digits,
        "raw": float(raw),
        "score": float(score),
    }


def _metrics(target: np.ndarray, impostor: np.ndarray, false_accepts: int, false_rejects: int) -> dict[str, Any]:
    if len(target) == 0 or len(impostor) == 0:
        return {"eer": None, "frr_at_far1": None, "min_dcf": None, "deployment_far": None, "deployment_frr": None}
    return {
        "eer": 100 * metrics.eer(target, impostor),
        "frr_at_far1": 100 * metrics.frr_at_far(target, impostor, 0.01),
        "min_dcf": metrics.min_dcf(target, impostor, P_TARGET),
        "deployment_far": 100 * false_accepts / len(impostor),
        "deployment_frr": 100 * false_rejects / len(target),
    }


def _cross_validated(
    raw: list[list[np.ndarray]], target_far: float
) -> tuple[dict[tuple[int, int], float], dict[int | None, float]]:
    """Locations and thresholds by the service's own ``calibrate_deployment``, leaving one speaker out.

    ``shift[(i, j)]``: the location subtracted from j's trials against user i (computed without j);
    ``thresholds[j]``: the target-FAR threshold pooled over every user but j, from cohorts without j;
    ``thresholds[None]``: the threshold from everyone's impostor trials, for genuine trials.
    """
    n = len(raw)

    def calibrated(excluded: int | None) -> tuple[dict[int, float], float]:
        """Each user's location and the pooled threshold, from cohorts without ``excluded``."""
        users = [i for i in range(n) if i != excluded]
        parts = [[raw[i][j] for j in range(n) if j not in (i, excluded) and len(raw[i][j])] for i in users]
        scores = [np.concatenate(p) if p else np.zeros(0) for p in parts]
        pooled = calibrate_deployment(scores, [len(p) for p in parts], target_far)
        own = {i: pooled.location(impostor_location(s), len(p)) for i, s, p in zip(users, scores, parts, strict=True)}
        return own, pooled.threshold

    shift: dict[tuple[int, int], float] = {}
    thresholds: dict[int | None, float] = {}
    everyone, thresholds[None] = calibrated(None)
    for i in range(n):
        shift[(i, i)] = everyone[i]
    for j in range(n):
        without_j, thresholds[j] = calibrated(j)
        for i in without_j:
            shift[(i, j)] = without_j[i]
    return shift, thresholds


def format_report(report: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    def dcf(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [
        f"{report['n_users']} ready users, {report['k']}-digit trials, UBM {report['ubm_id']}, "
        f"calibration: {report['calibration']} (target FAR {100 * report['target_far']:g}%)",
        "",
        "| user | target | impostor | EER % | FRR @ FAR 1% | minDCF (0.01) | FAR % at threshold | FRR % at threshold |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*report["per_user"], {"alias": "**pooled**", **report["pooled"]}]:
        lines.append(
            f"| {r['alias']} | {r['n_target']} | {r['n_impostor']} | {pct(r['eer'])} | {pct(r['frr_at_far1'])} | "
            f"{dcf(r['min_dcf'])} | {pct(r['deployment_far'])} | {pct(r['deployment_frr'])} |"
        )
    held = report["held_out_material"]
    lines += [
        "",
        f"Threshold: {report['deployment_threshold']['method']}.",
        f"Genuine trials: {held['enrolment_takes']}; {held['accepted_attempts']} accepted verification attempts "
        f"not used ({held['note']}).",
    ]
    return "\n".join(lines) + "\n"
