"""The service's quality-aware operating points on FSDD, at library level (no HTTP, no database).

    python benchmarks/noise_operating_point.py [--takes dev|test] [--genuine 200] [--impostor 800]
        [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k] [--no-write]

A reproduction of what a deployment of the 6 FSDD speakers decides, built from the product's own functions:
each speaker enrols takes 0-5 (clean, Meyda features at the stored precision, the model built from the
takes and their noisy copies as ``voice.takes.rebuild_model`` does); each user's cohort is the other five
users' stored takes, scored and degraded to ``SNR_LEVELS`` as ``app.calibration._compute_user`` does; the
deployment calibration is ``calibrate_deployment`` over the six users, each level's threshold kept in
``threshold_range`` (``app.calibration._levels_doc``), and a user's ``Calibration`` is assembled as
``app.calibration._user_calibration`` assembles it. Answers are 5 takes of 5 distinct prompted digits from
the development takes 6-24 (``--takes test``: 25-49, for the final report only), genuine (the user's own)
and impostor (one other speaker's), clean or with real noise mixed into the audio before feature extraction
(``evaluation.noise.mix``: white, pink, babble from speechocean762) at 20, 15, 10 and 5 dB, sent as the b64
form's float32 frames. Each answer is scored (``score_answer``: the content check included), measured
(``estimate_quality``) and decided (``decide``: ``too_noisy`` is a rejection) as ``app.verification`` does.

Per condition: FAR and FRR at the served operating points, the share of answers ``too_noisy``, and the
bias: the median normalised impostor score of the real noisy answers minus that of the degraded cohort at
the matching level (both normalised by the user's location at that level), in mean-LLR units.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.app.calibration import score_cohort
from speakerverify.config import VoicePolicy
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.features.quality import estimate_quality
from speakerverify.models.calibration import (
    DEGRADED_COHORT_BIAS,
    SNR_LEVELS,
    bounded,
    calibrate_deployment,
    shrunk_location,
)
from speakerverify.models.digits import segment_digit_scores
from speakerverify.models.noise_signature import frame_signature, noise_model_terms
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, take_stats
from speakerverify.models.scoring import ModelTerms, align, model_terms
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.decision import AnswerScore, Calibration, SegmentScore, decide, reason

ENROL = tuple(range(0, 6))
TAKES = {"dev": tuple(range(6, 25)), "test": tuple(range(25, 50))}
CONDITIONS = (
    ("clean", None),
    ("white", 20.0),
    ("pink", 20.0),
    ("babble", 20.0),
    ("white", 15.0),
    ("pink", 15.0),
    ("babble", 15.0),
    ("white", 10.0),
    ("pink", 10.0),
    ("babble", 10.0),
    ("white", 5.0),
    ("pink", 5.0),
    ("babble", 5.0),
)
K = VoicePolicy.challenge_digits


def _name(kind: str, snr: float | None) -> str:
    return kind if snr is None else f"{kind} {snr:g} dB"


@dataclass
class User:
    name: str
    user_id: uuid.UUID
    terms: ModelTerms
    raw: list[tuple[int, np.ndarray, np.ndarray]]  # the stored takes (digit, mfcc, energy), as the cohort reads them


def _user(gmm, name: str, raw: list[tuple[int, np.ndarray, np.ndarray]]) -> User:
    """The user's model as ``rebuild_model`` builds it (every take with its copies) and its scoring terms."""
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for digit, mfcc, energy in raw:
        model = model.add(digit, take_stats(gmm, mfcc, energy, DEFAULT_POST, DEFAULT_RECIPE))
    terms = model_terms(gmm, digit_means(gmm, model, DEFAULT_ADAPTATION), dtype=np.float32)
    return User(name, uuid.uuid5(uuid.NAMESPACE_URL, f"fsdd:{name}"), terms, raw)


def _cohort_row(gmm, user: User, cohort: list[User], policy: VoicePolicy) -> dict:
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


def _calibrations(
    rows: dict[str, dict],
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
    frames: dict[tuple[str, int, int], int]
    energy: dict[tuple[str, int, int], np.ndarray]
    signature: dict[tuple[str, int, int], float]
    signature_measured: bool  # False without a noise model for the UBM


def _score_takes(gmm, users: list[User], feats: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]]) -> Scored:
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
    return Scored(rows, frames, {k: feats[k][1] for k in keys}, signature, noise_model is not None)


def _answer(scored: Scored, user: str, keys: list[tuple[str, int, int]], policy: VoicePolicy) -> AnswerScore:
    """``score_answer`` from the takes' precomputed digit scores (frame alignment is per frame, so scoring
    each take once equals scoring the concatenated answer)."""
    from speakerverify.models.digits import content_margin

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
    signed = frames and scored.signature_measured
    return AnswerScore(segments, total / frames if frames else None, frames, sig / frames if signed else None)


def fsdd_deployment(gmm, corpus: str, policy: VoicePolicy) -> tuple[list, list[str], list[User], dict[str, dict]]:
    """The 6 FSDD speakers enrolled on takes 0-5 and each calibrated on the users following it on the id ring:
    (the corpus records, the speakers, the users, each user's cohort row by name)."""
    recs = read_fsdd(corpus)
    speakers = sorted({r.speaker for r in recs})
    users = []
    for spk in speakers:
        raw = [
            (r.digit, *as_stored(*extract(read_audio(r.path)))) for r in recs if r.speaker == spk and r.take in ENROL
        ]
        users.append(_user(gmm, spk, raw))
    by_id = sorted(users, key=lambda u: u.user_id)  # the cohort ring follows user ids
    rows = {}
    for i, u in enumerate(by_id):
        rows[u.name] = _cohort_row(gmm, u, (by_id[i + 1 :] + by_id[:i])[: policy.max_cohort_users], policy)
    return recs, speakers, users, rows


def _trials(speakers: list[str], takes: tuple[int, ...], n_gen: int, n_imp: int, seed: int) -> list[tuple]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--takes", choices=list(TAKES), default="dev")
    parser.add_argument("--genuine", type=int, default=200, help="genuine answers per user and condition")
    parser.add_argument("--impostor", type=int, default=800, help="impostor answers per user and condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", nargs="+", help="only these (e.g. clean white20)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    policy = VoicePolicy()
    gmm = load_default_ubm().gmm
    recs, speakers, users, rows = fsdd_deployment(gmm, args.corpus, policy)
    answer_takes = TAKES[args.takes]
    calibs = {
        "uncorrected": _calibrations(rows, policy, (0.0,) * len(SNR_LEVELS), signatures=False),
        "bias only": _calibrations(rows, policy, signatures=False),
        "product": _calibrations(rows, policy),
    }
    print(f"enrolled and calibrated in {time.perf_counter() - t0:.0f} s", flush=True)
    for name, calib in calibs.items():
        c0 = calib[speakers[0]]
        points = [(round(c0.clean_snr_db or 0, 1), round(c0.threshold, 3))] + [
            (round(s, 1), round(t, 3)) for s, _, t in c0.levels
        ]
        print(f"{name} operating points (measured SNR dB, threshold):", points, flush=True)

    trials = _trials(speakers, answer_takes, args.genuine, args.impostor, args.seed)
    answer_recs = [r for r in recs if r.take in answer_takes]
    table = []
    wanted = [c for c in CONDITIONS if not args.conditions or _short(*c) in args.conditions]
    for kind, snr in wanted:
        feats = {}
        for r in answer_recs:
            x = read_audio(r.path)
            if snr is not None:
                x = mix(x, kind, snr, r.path.name, args.babble_corpus)
            mfcc, energy = extract(x)
            feats[(r.speaker, r.digit, r.take)] = (np.float32(mfcc), np.float32(energy))  # the b64 form
        scored = _score_takes(gmm, users, feats)
        answers = [
            (
                user,
                genuine,
                _answer(scored, user, keys, policy),
                estimate_quality([scored.energy[k] for k in keys]).snr_db,
            )
            for user, genuine, keys in trials
        ]
        row: dict = {"condition": _name(kind, snr), "bias": _bias(answers, rows, calibs["uncorrected"], snr)}
        sigs = [a.signature for _, _, a, _ in answers if a.signature is not None]
        row["signature"] = float(np.median(sigs)) if sigs else None
        for name, calib in calibs.items():
            gen, imp, noisy_n, why = [], [], 0, {}
            for user, genuine, answer, snr_db in answers:
                decision = decide(answer, np.full(K, np.inf), calib[user], 0.0, snr_db)  # no replay here
                noisy_n += decision.too_noisy
                (gen if genuine else imp).append(decision.accept)
                if genuine and not decision.accept:
                    why[reason(answer, decision)] = why.get(reason(answer, decision), 0) + 1
            row[name] = (100 * float(np.mean(imp)), 100 * (1 - float(np.mean(gen))), 100 * noisy_n / len(answers))
            print(
                f"{row['condition']:>16} {name}: FAR/FRR/too_noisy % {row[name]}, genuine rejected: {why}", flush=True
            )
        table.append(row)
    took = time.perf_counter() - t0
    c0 = calibs["product"][speakers[0]]
    refs = ", ".join(f"{x:.2f}" for x in (c0.clean_signature or 0.0, *c0.signatures)) if c0.signatures else "-"
    lines = [
        f"`benchmarks/noise_operating_point.py --takes {args.takes} --genuine {args.genuine} --impostor "
        f"{args.impostor}`: answers from takes {answer_takes[0]}-{answer_takes[-1]}, "
        f"{len(speakers) * args.genuine} genuine / {len(speakers) * args.impostor} impostor answers per condition "
        f"(5 digits); uncorrected: each level's threshold the degraded cohort's own 1%-FAR point; bias only: "
        f"lowered by `DEGRADED_COHORT_BIAS` {DEGRADED_COHORT_BIAS} (the product before the noise signature); "
        f"product: that, with what each level asks above the clean point scaled by the answer's noise-signature "
        f"fraction (cohort signatures clean, 20, 15, 10, 5 dB: {refs}); too_noisy counts as a rejection and is "
        f"given as a share of all answers (the same in every column); bias: median normalised impostor score of "
        f"the real noisy answers minus that of the degraded cohort at the matching level; signature: the answers' "
        f"median. Run {took:.0f} s.",
        "",
        "| condition | bias | signature | FAR % uncorrected | FRR % uncorrected | FAR % bias only | FRR % bias only "
        "| FAR % product | FRR % product | too_noisy % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        b = "-" if r["bias"] is None else f"{r['bias']:+.3f}"
        sg = "-" if r["signature"] is None else f"{r['signature']:.2f}"
        u, o, p = r["uncorrected"], r["bias only"], r["product"]
        lines.append(
            f"| {r['condition']} | {b} | {sg} | {u[0]:.2f} | {u[1]:.2f} | {o[0]:.2f} | {o[1]:.2f} | {p[0]:.2f} "
            f"| {p[1]:.2f} | {p[2]:.1f} |"
        )
    print("\n".join(lines))
    if not args.no_write:
        write_section(
            f"noise-op-{args.takes}",
            "benchmarks/noise_operating_point.py",
            f"## Noise: operating points at library level ({args.takes} takes)\n\n" + "\n".join(lines),
        )


def _short(kind: str, snr: float | None) -> str:
    return kind + ("" if snr is None else f"{snr:g}")


def _bias(
    answers: list[tuple], rows: dict[str, dict], calib: dict[str, Calibration], snr: float | None
) -> float | None:
    """Median normalised impostor score of the real noisy answers minus the degraded cohort's, both at the
    level of the nominal ``snr`` and normalised by each user's location there; None for clean answers."""
    if snr is None:
        return None
    level = SNR_LEVELS.index(snr)
    real = [a.raw - calib[u].levels[level][1] for u, genuine, a, _ in answers if not genuine and a.raw is not None]
    cohort = [np.asarray(rows[u]["noisy"].scores[level], np.float64) - calib[u].levels[level][1] for u in calib]
    return float(np.median(real) - np.median(np.concatenate(cohort)))


if __name__ == "__main__":
    main()
