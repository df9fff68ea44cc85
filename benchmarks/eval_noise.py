"""Noise: the FSDD protocol per test-side noise condition, with and without the noisy copies; SNR estimates.

    python benchmarks/eval_noise.py [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k]

`speakerverify eval`'s protocol (takes 0-5 enrol, 25-49 test), gmm-ubm-digit, every condition of
``evaluation.runner.CONDITIONS``; enrolment with the product's copies (models/noisy_copies.py) and without.
Also how well ``features.quality`` measures the SNR of 5-digit answers mixed at known SNRs. DET curves of
K = 3 go to benchmarks/det-noise-k3.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from report import write_section

from speakerverify.cli import _progress
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.metrics import plot_det
from speakerverify.evaluation.noise import mix
from speakerverify.evaluation.runner import CONDITIONS, evaluate
from speakerverify.features import extract, read_audio
from speakerverify.features.quality import estimate_quality
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES
from speakerverify.models.ubm import load_default_ubm

HERE = Path(__file__).resolve().parent


def snr_table(corpus: str, babble: str, n_answers: int = 60) -> list[str]:
    """Measured SNR of 5-digit answers (test takes, each mixed at the nominal SNR) per kind and SNR."""
    recs = [r for r in read_fsdd(corpus) if r.take >= 25]
    rng = np.random.default_rng(0)
    answers = [rng.choice(len(recs), 5, replace=False) for _ in range(n_answers)]
    lines = ["| noise | nominal SNR dB | measured: median | 10th pct | 90th pct |", "|---|---:|---:|---:|---:|"]
    for kind, snr in [("clean", None)] + [(k, s) for k in ("white", "pink", "babble") for s in (20, 10, 5)]:
        est = []
        for idx in answers:
            xs = [read_audio(recs[i].path) for i in idx]
            if snr is not None:
                xs = [mix(x, kind, snr, recs[i].path.name, babble) for x, i in zip(xs, idx, strict=True)]
            raw = [extract(x) for x in xs]
            est.append(estimate_quality([e for _, e in raw], mfcc=[m for m, _ in raw]).snr_db)
        p = np.percentile(est, [50, 10, 90])
        lines.append(f"| {kind} | {'-' if snr is None else snr} | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    ubm = load_default_ubm()
    conds = list(CONDITIONS)
    t0 = time.perf_counter()
    runs = {}
    for name, recipe in (("copies", DEFAULT_RECIPE), ("no copies", NO_COPIES)):
        runs[name] = evaluate(
            args.corpus,
            ubm,
            ks=(3, 5),
            trials_per_speaker=args.trials,
            conditions=conds,
            systems=("gmm-ubm-digit",),
            progress=_progress,
            recipe=recipe,
            babble_root=args.babble_corpus,
        )
    took = time.perf_counter() - t0
    lines = [
        "| condition | K | EER % no copies | EER % with copies | FRR @ FAR 1% no copies | with copies |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rec = {(n, r["condition"], r["k"]): r for n, res in runs.items() for r in res.records}
    for k in (3, 5):
        for c in conds:
            a, b = rec[("no copies", c, k)], rec[("copies", c, k)]
            lines.append(
                f"| {c} | {k} | {a['eer']:.2f} | {b['eer']:.2f} | {a['frr_at_far1']:.2f} | {b['frr_at_far1']:.2f} |"
            )
    print("\n".join(lines), flush=True)
    plot_det(
        {f"{c}": runs["copies"].scores[("gmm-ubm-digit", c, 3)] for c in conds},
        HERE / "det-noise-k3.png",
        title="FSDD, 3-digit trials, enrolment with noisy copies",
    )
    snr_lines = snr_table(args.corpus, args.babble_corpus)
    body = "\n\n".join(
        [
            "## Noise",
            f"`benchmarks/eval_noise.py`: the README protocol (UBM `{ubm.ubm_id}`), gmm-ubm-digit, {args.trials} "
            f"trials per speaker and K, seed 0; noise on the test side only; copies recipe "
            f"`{DEFAULT_RECIPE.copies_id}`; whole run {took:.0f} s. DET curves (K = 3, with copies): "
            "benchmarks/det-noise-k3.png. Scored as the service scores an answer (per-frame LLRs bounded, "
            "less `NOISE_NORMALISATION` times the shipped noise model's signature; since 2026-12-02, so the "
            "earlier tables here were raw LLR means).",
            "\n".join(lines),
            "Measured SNR (`features.quality.estimate_quality`) of 60 5-digit answers from test takes, each "
            "take mixed at the nominal SNR:",
            "\n".join(snr_lines),
        ]
    )
    if not args.no_write:
        write_section("noise", "benchmarks/eval_noise.py", body)


if __name__ == "__main__":
    main()
