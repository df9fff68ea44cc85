"""Feature-domain noise robustness against the product's CMN, on the FSDD development takes: issue 14's
"feature warping beats CMN and CMVN under noise mismatch" and "21% relative EER reduction from spectral
subtraction", checked on 0.3-0.7 s digits whose mel bands come back from 13 MFCCs.

    python benchmarks/noise_features.py --study warping|subtraction|smoothing [--trials 300] [--k 3] [--no-write]

Each post-processing variant gets its own 256-component UBM trained on speechocean762 with the shipped
UBM's code and seed (``benchmarks/tune_dev.py: ubm_for``); enrolment takes 0-5 with the product's noisy
copies (``DEFAULT_RECIPE``) or none, trials from takes 6-24 (never reported), noise on the test side,
gmm-ubm-digit scored as the service scores a segment (bounded frame LLRs). The shipped noise model exists
only for the shipped UBM, so no row is noise-normalised: the comparison is of the features alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section
from tune_dev import ubm_for

from speakerverify.evaluation import runner
from speakerverify.evaluation.protocol import DEV_TAKES
from speakerverify.features import DEFAULT_POST, PostConfig
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES, CopyRecipe

_CMN = replace(DEFAULT_POST, post_id="cmn-retrained")
_WARP = replace(DEFAULT_POST, post_id="warp", warp=True)


def _subtraction(alpha: float, floor: float) -> PostConfig:
    return replace(DEFAULT_POST, post_id=f"ss-a{alpha}-f{floor}", subtraction=alpha, subtraction_floor=floor)


def _smoothing(frames: int) -> PostConfig:
    return replace(DEFAULT_POST, post_id=f"smooth{frames}", smooth_frames=frames)


Variants = dict[str, tuple[PostConfig, CopyRecipe]]
STUDIES: dict[str, tuple[str, str, Variants]] = {
    "warping": (
        "feature-warping",
        "feature warping",
        {
            "CMN (the product)": (_CMN, DEFAULT_RECIPE),
            "CMN + CVN": (replace(DEFAULT_POST, post_id="cmvn", cvn=True), DEFAULT_RECIPE),
            "feature warping of the statics": (_WARP, DEFAULT_RECIPE),
            "CMN, no copies": (_CMN, NO_COPIES),
            "feature warping, no copies": (_WARP, NO_COPIES),
        },
    ),
    "subtraction": (
        "spectral-subtraction",
        "spectral subtraction",
        {
            "CMN (the product)": (_CMN, DEFAULT_RECIPE),
            "subtraction 1, floor 0.3": (_subtraction(1.0, 0.3), DEFAULT_RECIPE),
            "subtraction 1, floor 0.1": (_subtraction(1.0, 0.1), DEFAULT_RECIPE),
            "subtraction 2, floor 0.1": (_subtraction(2.0, 0.1), DEFAULT_RECIPE),
            "CMN, no copies": (_CMN, NO_COPIES),
            "subtraction 1, floor 0.3, no copies": (_subtraction(1.0, 0.3), NO_COPIES),
            "subtraction 2, floor 0.1, no copies": (_subtraction(2.0, 0.1), NO_COPIES),
        },
    ),
    "smoothing": (
        "temporal-smoothing",
        "the statics smoothed in time",
        {
            "CMN (the product)": (_CMN, DEFAULT_RECIPE),
            "statics smoothed over 3 frames": (_smoothing(3), DEFAULT_RECIPE),
            "statics smoothed over 5 frames": (_smoothing(5), DEFAULT_RECIPE),
        },
    ),
}
CONDITIONS = ("clean", "white20", "pink20", "babble20", "white10", "pink10", "babble10", "white5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--ubm-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.trials < 1 or args.k < 1:
        parser.error("--trials and --k must be at least 1")

    section, title, variants = STUDIES[args.study]
    started = time.perf_counter()
    header = "| variant | " + " | ".join(CONDITIONS) + " |"
    lines = [header, "|---|" + "---:|" * len(CONDITIONS)]
    for name, (post, recipe) in variants.items():
        ubm = ubm_for(post, args.ubm_corpus)
        result = runner.evaluate(
            args.corpus,
            ubm,
            ks=(args.k,),
            trials_per_speaker=args.trials,
            conditions=CONDITIONS,
            systems=("gmm-ubm-digit",),
            post=post,
            test_takes=DEV_TAKES,
            recipe=recipe,
            noise_normalised=False,  # the variants' UBMs have no noise model, so the product's row goes without
        )
        eer = {r["condition"]: r["eer"] for r in result.records}
        lines.append(f"| {name} | " + " | ".join(f"{eer[c]:.2f}" for c in CONDITIONS) + " |")
        print(lines[-1], flush=True)
    body = (
        f"## Noise: {title} (dev takes)\n\n"
        f"`benchmarks/noise_features.py --study {args.study} --trials {args.trials} --k {args.k}`: "
        f"EER % at K = {args.k}, a UBM "
        "trained per variant, enrolment with the noisy copies unless the row says not, trials from takes 6-24, "
        "bounded frame LLRs, "
        f"no noise normalisation in any row; run {time.perf_counter() - started:.0f} s.\n\n" + "\n".join(lines)
    )
    if not args.no_write:
        write_section(section, "benchmarks/noise_features.py", body)


if __name__ == "__main__":
    main()
