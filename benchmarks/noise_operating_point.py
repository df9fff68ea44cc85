"""The service's quality-aware operating points on FSDD, at library level (no HTTP, no database).

    python benchmarks/noise_operating_point.py [--takes dev|test] [--genuine 200] [--impostor 800]
        [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k] [--heldout]
        [--level-bias B20,B15,B10,B5] [--no-write]

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

``--heldout``: the conditions are ``evaluation.noise.HELDOUT_KINDS`` (hum, fan, clatter, music: synthetic
noises nothing was tuned on) at 20, 10 and 5 dB, on the test takes, written to their own section
("noise-op-heldout"): how the choices made on white, pink and babble carry to other noise.

``--level-bias``: a what-if, each level's bar lowered by that much below the degraded cohort's point (as
``DEGRADED_COHORT_BIAS`` once did); printed only, never written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.noise import HELDOUT_KINDS, mix
from speakerverify.features import extract, read_audio
from speakerverify.models.calibration import (
    DEGRADED_COHORT_BIAS,
    SNR_LEVELS,
)
from speakerverify.models.ubm import load_default_ubm
from speakerverify.voice.decision import Calibration, decide, reason

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
HELDOUT_CONDITIONS = (("clean", None), *((k, snr) for snr in (20.0, 10.0, 5.0) for k in HELDOUT_KINDS))


def _name(kind: str, snr: float | None) -> str:
    return kind if snr is None else f"{kind} {snr:g} dB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--takes", choices=list(deployment.ANSWER_TAKES), default="dev")
    parser.add_argument("--genuine", type=int, default=200, help="genuine answers per user and condition")
    parser.add_argument("--impostor", type=int, default=800, help="impostor answers per user and condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", nargs="+", help="only these (e.g. clean white20)")
    parser.add_argument("--heldout", action="store_true", help="the held-out noises (test takes, own section)")
    parser.add_argument(
        "--level-bias",
        type=level_biases,
        default=DEGRADED_COHORT_BIAS,
        help="comma-separated lowering of the 20, 15, 10, 5 dB levels (default: DEGRADED_COHORT_BIAS); not written",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.level_bias != DEGRADED_COHORT_BIAS:
        args.no_write = True  # a what-if: the sections hold the product's numbers
    if args.heldout and args.takes != "test":
        parser.error("--heldout reports on the test takes: add --takes test (nothing is chosen on held-out noise)")
    t0 = time.perf_counter()
    policy = VoicePolicy()
    gmm = load_default_ubm().gmm
    recs, speakers, users, rows = deployment.fsdd_deployment(gmm, args.corpus, policy)
    answer_takes = deployment.ANSWER_TAKES[args.takes]
    calibs = {
        "uncorrected": deployment.calibrations(rows, policy, (0.0,) * len(SNR_LEVELS), signatures=False),
        "bias only": deployment.calibrations(rows, policy, args.level_bias, signatures=False),
        "product": deployment.calibrations(rows, policy, args.level_bias),
    }
    print(f"enrolled and calibrated in {time.perf_counter() - t0:.0f} s", flush=True)
    for name, calib in calibs.items():
        c0 = calib[speakers[0]]
        points = [(round(c0.clean_snr_db or 0, 1), round(c0.threshold, 3))] + [
            (round(s, 1), round(t, 3)) for s, _, t in c0.levels
        ]
        print(f"{name} operating points (measured SNR dB, threshold):", points, flush=True)

    trials = deployment.answer_trials(speakers, answer_takes, args.genuine, args.impostor, args.seed)
    answer_recs = [r for r in recs if r.take in answer_takes]
    table = []
    pool = HELDOUT_CONDITIONS if args.heldout else CONDITIONS
    wanted = [c for c in pool if not args.conditions or _short(*c) in args.conditions]
    for kind, snr in wanted:
        feats = {}
        for r in answer_recs:
            x = read_audio(r.path)
            if snr is not None:
                x = mix(x, kind, snr, r.path.name, args.babble_corpus)
            mfcc, energy = extract(x)
            feats[(r.speaker, r.digit, r.take)] = (np.float32(mfcc), np.float32(energy))  # the b64 form
        scored = deployment.score_takes(gmm, users, feats)
        answers = [
            (
                user,
                genuine,
                deployment.answer_score(scored, user, keys, policy),
                deployment.answer_snr(scored, keys),
            )
            for user, genuine, keys in trials
        ]
        row: dict = {"condition": _name(kind, snr), "bias": _bias(answers, rows, calibs["uncorrected"], snr)}
        sigs = [a.signature for _, _, a, _ in answers if a.signature is not None]
        row["signature"] = float(np.median(sigs)) if sigs else None
        for name, calib in calibs.items():
            gen, imp, noisy_n, why = [], [], 0, {}
            for user, genuine, answer, snr_db in answers:
                decision = decide(answer, np.full(deployment.K, np.inf), calib[user], 0.0, snr_db)  # no replay here
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
        f"{args.impostor}{' --heldout' if args.heldout else ''}`: answers from takes "
        f"{answer_takes[0]}-{answer_takes[-1]}, "
        f"{len(speakers) * args.genuine} genuine / {len(speakers) * args.impostor} impostor answers per condition "
        f"(5 digits); uncorrected: each level's threshold the degraded cohort's own 1%-FAR point; bias only: "
        f"lowered by {args.level_bias} (`DEGRADED_COHORT_BIAS` {DEGRADED_COHORT_BIAS}; the product before the "
        f"noise signature); "
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
        name, title = (
            ("heldout", "held-out noises, test takes") if args.heldout else (args.takes, f"{args.takes} takes")
        )
        write_section(
            f"noise-op-{name}",
            "benchmarks/noise_operating_point.py",
            f"## Noise: operating points at library level ({title})\n\n" + "\n".join(lines),
        )


def level_biases(text: str) -> tuple[float, ...]:
    """``--level-bias``: one comma-separated value per ``SNR_LEVELS``."""
    values = tuple(float(v) for v in text.split(","))
    if len(values) != len(SNR_LEVELS):
        raise argparse.ArgumentTypeError(f"one bias per level {SNR_LEVELS}, got {len(values)}")
    return values


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
