"""A deployment of the 6 FSDD speakers built from the product's own functions, without HTTP or a database.

Each speaker enrols takes 0-5 (clean, Meyda features at the stored precision, the model built from the takes
and their noisy copies as ``voice.takes.rebuild_model`` does); each user's cohort is the users following it on
the id ring, scored and degraded to ``SNR_LEVELS`` as ``app.calibration._compute_user`` does; the deployment
calibration is ``calibrate_deployment`` over the six users, each level's threshold kept in ``threshold_range``
(``app.calibration._levels_doc``), and a user's ``Calibration`` is assembled as
``app.calibration._user_calibration`` assembles it. Answers are ``K`` takes of distinct prompted digits,
scored take by take (``score_takes``) and combined per answer (``answer_score``) as ``score_answer`` would.

The benchmarks that measure decisions at library level (``benchmarks/noise_operating_point.py``,
``flattened_cepstra.py``, ``snr_claim.py`` ...) and the attack tests share it, so what a benchmark reports
is what the suite guards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..app.calibration import score_cohort
from ..config import VoicePolicy
from ..features import DEFAULT_POST, extract, postprocess, read_audio
from ..features.quality import estimate_quality
from ..models.calibration import DEGRADED_COHORT_BIAS, bounded, calibrate_deployment, shrunk_location
from ..models.digits import content_margin, segment_digit_scores
from ..models.gmm import DiagGMM
from ..models.noise_signature import frame_signature, noise_model_terms
from ..models.noisy_copies import DEFAULT_RECIPE, CopyRecipe, take_stats
from ..models.scoring import ModelTerms, align, model_terms
from ..models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from ..storage.utterances import as_stored
from ..voice.decision import AnswerScore, Calibration, Decision, SegmentScore, decide, normalised_score
from .corpus import Recording, read_fsdd

ENROL_TAKES = tuple(range(0, 6))
ANSWER_TAKES = {"dev": tuple(range(6, 25)), "test": tuple(range(25, 50))}
"""Answers come from the development takes (choices are made on them) or the test takes (reported once)."""
K = VoicePolicy.challenge_digits
TakeKey = tuple[str, int, int]
"""(speaker, digit, take) of one FSDD recording."""
Trial = tuple[str, bool, list[TakeKey]]
"""(claimed user, genuine?, the answer's takes)."""


@dataclass
class User:
    name: str
    user_id: uuid.UUID
    terms: ModelTerms
    raw: list[tuple[int, np.ndarray, np.ndarray]]  # the stored takes (digit, mfcc, energy), as the cohort reads them


def enrolled_user(
    gmm: DiagGMM, name: str, raw: list[tuple[int, np.ndarray, np.ndarray]], recipe: CopyRecipe = DEFAULT_RECIPE
) -> User:
    """The user's model as ``rebuild_model`` builds it (every take with its copies) and its scoring terms."""
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for digit, mfcc, energy in raw:
        model = model.add(digit, take_stats(gmm, mfcc, energy, DEFAULT_POST, recipe))
    terms = model_terms(gmm, digit_means(gmm, model, DEFAULT_ADAPTATION), dtype=np.float32)
    return User(name, uuid.uuid5(uuid.NAMESPACE_URL, f"fsdd:{name}"), terms, raw)


def cohort_row(gmm: DiagGMM, user: User, cohort: list[User], policy: VoicePolicy) -> dict[str, Any]:
    """``app.calibration._compute_user`` on arrays (``score_cohort``, the service's own): the user's clean
    impostor scores, location, and noisy scores at every level."""
    raw, owners = [], []
    for i, other in enumerate(cohort):
        raw += other.raw
        owners += [i] * len(other.raw)
    rng = np.random.default_rng([user.user_id.int & (2**63 - 1), K])  # app.calibration._user_rng
    c = score_cohort(gmm, user.terms, raw, owners, K, rng, policy, DEFAULT_POST, DEFAULT_ADAPTATION.top_c)
    return {
        "n_cohort": c.n_cohort_users,
        "location": c.location,
        "scores": c.scores.astype(np.float32),  # stored as float32
        "noisy": c.noisy,
    }


def calibrations(
    rows: dict[str, dict[str, Any]],
    policy: VoicePolicy,
    level_bias: tuple[float, ...] = DEGRADED_COHORT_BIAS,
    signatures: bool = True,
) -> dict[str, Calibration]:
    """The deployment calibration pooled over the users (``refresh_threshold``), each level's threshold
    bounded (``_levels_doc``), and every user's ``Calibration`` (``_user_calibration``). ``level_bias``:
    the product's ``DEGRADED_COHORT_BIAS``, or zeros for the degraded cohort's own target-FAR points;
    ``signatures`` False: without the cohort's noise signatures (the levels unscaled, as before them)."""
    names = list(rows)
    pooled = calibrate_deployment(
        [rows[n]["scores"] for n in names],
        [rows[n]["n_cohort"] for n in names],
        policy.target_far,
        [rows[n]["location"] for n in names],
        [rows[n]["noisy"] for n in names],
        level_bias,
    )
    low, high = policy.threshold_range
    threshold = bounded(pooled.threshold, low, high)
    out = {}
    for n in names:
        r = rows[n]
        levels = tuple(
            (lv.snr_db, shrunk_location(float(o), lv.grand_location, r["n_cohort"]), bounded(lv.threshold, low, high))
            for lv, o in zip(pooled.levels, r["noisy"].locations, strict=True)
        )
        location = shrunk_location(r["location"], pooled.grand_location, r["n_cohort"])
        signed = signatures and pooled.clean_signature is not None
        sigs = tuple(float(lv.signature) for lv in pooled.levels if lv.signature is not None) if signed else ()
        clean_sig = pooled.clean_signature if signed else None
        out[n] = Calibration("deployment", location, threshold, K, levels, pooled.clean_snr_db, sigs, clean_sig)
    return out


@dataclass
class Scored:
    """Every answer take against every user's model: digit scores (10,), speech frames, measured SNR, and
    the take's summed noise signature (``models.noise_signature``; the frame alignment is per frame, so
    an answer's signature is its takes' sums over its frames)."""

    rows: dict[tuple[str, str, int, int], np.ndarray]  # (model user, speaker, digit, take) -> (10,)
    frames: dict[TakeKey, int]
    energy: dict[TakeKey, np.ndarray]
    mfcc: dict[TakeKey, np.ndarray]  # raw, as sent: the answer's SNR is measured on both (``answer_snr``)
    signature: dict[TakeKey, float]
    signature_measured: bool  # False without a noise model for the UBM


def score_takes(gmm: DiagGMM, users: list[User], feats: dict[TakeKey, tuple[np.ndarray, np.ndarray]]) -> Scored:
    keys = list(feats)
    post = [postprocess(*feats[k], DEFAULT_POST) for k in keys]
    rows = {}
    for u in users:
        table = segment_digit_scores(gmm, u.terms, post, DEFAULT_ADAPTATION.top_c)
        rows.update({(u.name, *k): table[i] for i, k in enumerate(keys)})
    noise_model = noise_model_terms(gmm)
    signature = {}
    for k, p in zip(keys, post, strict=True):
        sig = 0.0
        if noise_model is not None and len(p):
            sig = float(frame_signature(noise_model, p, align(gmm, p, DEFAULT_ADAPTATION.top_c)).sum())
        signature[k] = sig
    frames = {k: len(p) for k, p in zip(keys, post, strict=True)}
    energy, mfcc = {k: feats[k][1] for k in keys}, {k: feats[k][0] for k in keys}
    return Scored(rows, frames, energy, mfcc, signature, noise_model is not None)


def answer_snr(scored: Scored, keys: list[TakeKey]) -> float:
    """The measured SNR (dB) of the answer made of ``keys``, as ``app.verification`` measures it."""
    return estimate_quality([scored.energy[k] for k in keys], mfcc=[scored.mfcc[k] for k in keys]).snr_db


def answer_score(scored: Scored, user: str, keys: list[TakeKey], policy: VoicePolicy) -> AnswerScore:
    """``score_answer`` from the takes' precomputed digit scores (frame alignment is per frame, so scoring
    each take once equals scoring the concatenated answer)."""
    segments, total, frames, sig = [], 0.0, 0, 0.0
    for spk, digit, take in keys:
        n = scored.frames[(spk, digit, take)]
        if n < policy.min_speech_frames:
            segments.append(SegmentScore(digit, n, None, False, None))
            continue
        row = scored.rows[(user, spk, digit, take)]
        margin = content_margin(row, digit)
        segments.append(SegmentScore(digit, n, float(row[digit]), margin >= -policy.content_margin, margin))
        total += float(row[digit]) * n
        frames += n
        sig += scored.signature[(spk, digit, take)]
    signature = sig / frames if frames and scored.signature_measured else None
    return AnswerScore(segments, normalised_score(total, frames, signature), frames, signature)


def decided(
    scored: Scored, calibration: Calibration, user: str, keys: list[TakeKey], policy: VoicePolicy
) -> tuple[AnswerScore, float, Decision]:
    """One answer of ``keys`` claiming ``user``: its score, measured SNR and decision, as
    ``app.verification`` decides it (no replay check: every answer here is fresh)."""
    answer = answer_score(scored, user, keys, policy)
    snr = answer_snr(scored, keys)
    return answer, snr, decide(answer, np.full(len(keys), np.inf), calibration, 0.0, snr)


def fsdd_deployment(
    gmm: DiagGMM, corpus: str | Path, policy: VoicePolicy, recipe: CopyRecipe = DEFAULT_RECIPE
) -> tuple[list[Recording], list[str], list[User], dict[str, dict[str, Any]]]:
    """The 6 FSDD speakers enrolled on takes 0-5 and each calibrated on the users following it on the id ring:
    (the corpus records, the speakers, the users, each user's cohort row by name)."""
    recs = read_fsdd(corpus)
    speakers = sorted({r.speaker for r in recs})
    users = []
    for spk in speakers:
        raw = [
            (r.digit, *as_stored(*extract(read_audio(r.path))))
            for r in recs
            if r.speaker == spk and r.take in ENROL_TAKES
        ]
        users.append(enrolled_user(gmm, spk, raw, recipe))
    by_id = sorted(users, key=lambda u: u.user_id)  # the cohort ring follows user ids
    rows = {}
    for i, u in enumerate(by_id):
        rows[u.name] = cohort_row(gmm, u, (by_id[i + 1 :] + by_id[:i])[: policy.max_cohort_users], policy)
    return recs, speakers, users, rows


def answer_trials(speakers: list[str], takes: tuple[int, ...], n_gen: int, n_imp: int, seed: int) -> list[Trial]:
    """(user, genuine?, [(speaker, digit, take)] * K) for every user; the same trials in every condition."""
    rng = np.random.default_rng(seed)
    out = []
    for user in speakers:
        others = [s for s in speakers if s != user]
        for i in range(n_gen + n_imp):
            spk = user if i < n_gen else others[int(rng.integers(len(others)))]
            digits = rng.choice(10, size=K, replace=False)
            out.append((user, i < n_gen, [(spk, int(d), int(rng.choice(takes))) for d in digits]))
    return out
