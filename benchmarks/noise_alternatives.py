"""Alternatives to the noise signature, measured on the same deployment (development takes only).

    python benchmarks/noise_alternatives.py [--genuine 50] [--impostor 200] [--no-write]

The deployment, trials and answers of ``noise_operating_point.py`` (6 FSDD users enrolled on takes 0-5,
answers from the development takes 6-24 with real noise mixed in). Each answer's raw score and measured SNR,
decided by:

- "bias only": the product before the noise signature (``Calibration.operating_point`` without it);
- "clean point": every decidable answer held to the clean point (the claimed-noise floor) whatever its noise;
- "T-norm": the raw score minus the user's location, minus the mean (and divided by the spread) of the
  answer's scores against 125 background speaker models (one per speechocean762 speaker, adapted from the
  UBM with the speaker models' noisy copies), one threshold: the clean impostor answers' 0.5%-FAR point
  (chosen on these answers, so flattering the clean FAR; it is the noisy conditions that are compared);
- "product": the service's decision with the answer's noise signature.

FAR / FRR % per condition; content check and ``too_noisy`` as the service has them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import noise_operating_point as nop
from report import write_section

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.frame_bounds import bound_frame_llr
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, take_stats
from speakerverify.models.scoring import align, model_terms, terms_frame_llr
from speakerverify.models.speaker import DEFAULT_ADAPTATION, Stats, map_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.decision import decide

CONDITIONS = (
    ("clean", None),
    ("white", 20.0),
    ("babble", 20.0),
    ("white", 10.0),
    ("pink", 10.0),
    ("babble", 10.0),
)


def background_means(gmm, root: str) -> np.ndarray:
    """One model per speechocean762 speaker: the UBM MAP-adapted to its 8 utterances and their copies. (S, C, D)"""
    by_speaker: dict[str, Stats] = {}
    for f in sorted(Path(root, "wav").glob("*.wav")):
        s = take_stats(gmm, *as_stored(*extract(read_audio(f))), DEFAULT_POST, DEFAULT_RECIPE)
        spk = f.name.split("_")[0]
        by_speaker[spk] = by_speaker[spk] + s if spk in by_speaker else s
    return np.array([map_means(gmm.means, s, DEFAULT_ADAPTATION.relevance) for s in by_speaker.values()])


def _answers(gmm, users, recs, trials, kind, snr, root, bg_terms, policy):
    feats, bg = {}, {}
    for r in recs:
        x = read_audio(r.path)
        if snr is not None:
            x = mix(x, kind, snr, r.path.name, root)
        m, e = extract(x)
        key = (r.speaker, r.digit, r.take)
        feats[key] = (np.float32(m), np.float32(e))
        p = postprocess(*feats[key], DEFAULT_POST)
        llr = terms_frame_llr(bg_terms, p, align(gmm, p, DEFAULT_ADAPTATION.top_c)) if len(p) else None
        bg[key] = np.zeros(len(bg_terms.const)) if llr is None else bound_frame_llr(llr).sum(axis=1)
    scored = deployment.score_takes(gmm, users, feats)
    out = []
    for user, genuine, keys in trials:
        a = deployment.answer_score(scored, user, keys, policy)
        q = deployment.answer_snr(scored, keys)
        frames = max(sum(scored.frames[k] for k in keys), 1)
        out.append((user, genuine, a, q, sum(bg[k] for k in keys) / frames))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genuine", type=int, default=50)
    parser.add_argument("--impostor", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    root, policy, gmm = "../shared/data/speechocean762-8k", VoicePolicy(), load_default_ubm().gmm
    bg_terms = model_terms(gmm, background_means(gmm, root), dtype=np.float32)
    recs, speakers, users, rows = deployment.fsdd_deployment(gmm, "../shared/data/fsdd", policy)
    before, product = deployment.calibrations(rows, policy, signatures=False), deployment.calibrations(rows, policy)
    trials = deployment.answer_trials(speakers, deployment.ANSWER_TAKES["dev"], args.genuine, args.impostor, 0)
    answer_recs = [r for r in recs if r.take in deployment.ANSWER_TAKES["dev"]]
    results = {}
    for kind, snr in CONDITIONS:
        results[nop._name(kind, snr)] = _answers(gmm, users, answer_recs, trials, kind, snr, root, bg_terms, policy)
        print(nop._name(kind, snr), f"{time.perf_counter() - t0:.0f} s", flush=True)
    rules = _rules(before, product, results["clean"])
    lines = [
        "## Noise: alternatives to the noise signature (dev takes)",
        "",
        f"`benchmarks/noise_alternatives.py --genuine {args.genuine} --impostor {args.impostor}` (development "
        f"takes, {len(speakers) * args.genuine} genuine / {len(speakers) * args.impostor} impostor answers per "
        f"condition; run {time.perf_counter() - t0:.0f} s): FAR % / FRR %.",
        "",
        "| decision | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for name, rule in rules.items():
        cells = []
        for answers in results.values():
            acc = np.array([rule(*a) for a in answers])
            gen = np.array([a[1] for a in answers])
            cells.append(f"{100 * acc[~gen].mean():.2f} / {100 * (1 - acc[gen].mean()):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if not args.no_write:
        write_section("noise-alternatives", "benchmarks/noise_alternatives.py", "\n".join(lines))


def _rules(before, product, clean_answers):
    """The decisions compared: each (user, genuine, answer, snr, background scores (S,)) -> accepted."""
    none = np.full(deployment.K, np.inf)

    def served(calib):
        return lambda u, g, a, q, bg: decide(a, none, calib[u], 0.0, q).accept

    def clean_point(u, g, a, q, bg):
        c = before[u]
        return (
            c.operating_point(q) is not None
            and a.digits_match
            and a.raw is not None
            and a.raw >= sum((c.location, c.threshold))
        )

    def tnorm(divide: bool):
        def score(u, a, bg):
            s = a.raw - before[u].location - bg.mean()
            return s / bg.std() if divide else s

        imp = [score(u, a, bg) for u, g, a, q, bg in clean_answers if not g and a.raw is not None]
        thr = float(np.quantile(imp, 0.995))

        def rule(u, g, a, q, bg):
            return (
                before[u].operating_point(q) is not None
                and a.digits_match
                and a.raw is not None
                and (score(u, a, bg) >= thr)
            )

        return rule

    return {
        "bias only (before)": served(before),
        "clean point for every SNR": clean_point,
        "T-norm, mean only": tnorm(False),
        "T-norm, mean and spread": tnorm(True),
        "product (noise signature)": served(product),
    }


if __name__ == "__main__":
    main()
