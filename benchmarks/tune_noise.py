"""Choose the noisy-copy recipe (kinds, SNRs, weight) on the FSDD development takes.

    python benchmarks/tune_noise.py [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k]

Trials from takes 6-24 (never reported), K = 3, gmm-ubm-digit, the shipped UBM; enrolment takes 0-5 with
each recipe's server-side copies (models/noisy_copies.py); noise on the test side (evaluation/noise.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.evaluation.protocol import DEV_TAKES
from speakerverify.evaluation.runner import evaluate
from speakerverify.models.noisy_copies import NO_COPIES, STATIONARY_RECIPE, CopyCondition, CopyRecipe
from speakerverify.models.ubm import load_default_ubm


def _r(name: str, spec: str, weight: float = 1.0) -> CopyRecipe:
    kinds = {"w": "white", "p": "pink", "s": "speech"}
    return CopyRecipe(name, tuple(CopyCondition(kinds[c[0]], float(c[1:])) for c in spec.split()), weight)


RECIPES = {
    "no copies": NO_COPIES,
    "w20 p15 w10": _r("facts", "w20 p15 w10"),
    "w20 p15 w10, weight 0.5": _r("a", "w20 p15 w10", 0.5),
    "w20 p15 w10 w5": _r("b", "w20 p15 w10 w5"),
    "p20 w15 p10": _r("c", "p20 w15 p10"),
    "w20 p20 w10 p10 w5 p5, weight 0.5": _r("d", "w20 p20 w10 p10 w5 p5", 0.5),
    "w15 p10": _r("e", "w15 p10"),
    "w20 p15 s15, weight 0.5": _r("f", "w20 p15 s15", 0.5),
    "w20 p15 w10 s20 s10, weight 0.5": _r("g", "w20 p15 w10 s20 s10", 0.5),
    "p20 w15 p10 s15, weight 0.5 (chosen)": STATIONARY_RECIPE,
    "p20 w15 p10 s15, weight 0.35": _r("j", "p20 w15 p10 s15", 0.35),
    "w20 p15 w10 s15, weight 0.5": _r("k", "w20 p15 w10 s15", 0.5),
    "s20 s10, weight 0.5": _r("i", "s20 s10", 0.5),
}
CONDITIONS = ("clean", "white20", "white10", "pink10", "babble20", "babble10", "babble5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--trials", type=int, default=150)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    ubm = load_default_ubm()
    lines = ["| copies | " + " | ".join(CONDITIONS) + " |", "|---|" + "---:|" * len(CONDITIONS)]
    print(lines[0], flush=True)
    for name in args.recipes:
        result = evaluate(
            args.corpus,
            ubm,
            ks=(3,),
            trials_per_speaker=args.trials,
            conditions=CONDITIONS,
            systems=("gmm-ubm-digit",),
            test_takes=DEV_TAKES,
            recipe=RECIPES[name],
            babble_root=args.babble_corpus,
        )
        eer = {r["condition"]: r["eer"] for r in result.records}
        lines.append(f"| {name} | " + " | ".join(f"{eer[c]:.2f}" for c in CONDITIONS) + " |")
        print(lines[-1], flush=True)
    body = (
        "### Noisy-copy recipe (development takes 6-24, K = 3, gmm-ubm-digit, EER %)\n\n"
        f"{args.trials} trials per speaker, seed 0; copies built on the server from the MFCCs.\n\n" + "\n".join(lines)
    )
    if not args.no_write:
        write_section("noise-tuning", "benchmarks/tune_noise.py", body)


if __name__ == "__main__":
    main()
