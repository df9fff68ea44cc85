"""Choose post-processing and adaptation settings on the FSDD development takes.

    python benchmarks/tune_dev.py [--corpus ../shared/data/fsdd] [--ubm-corpus ../shared/data/speechocean762-8k]

Trials are drawn from takes 6-24, which the reported protocol (takes 25-49)
never uses. Every post-processing variant gets its own UBM trained on
speechocean762 with the same code and seed as the shipped one.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section
from tqdm import tqdm

from speakerverify.evaluation.protocol import DEV_TAKES
from speakerverify.evaluation.runner import evaluate
from speakerverify.features import DEFAULT_CONFIG, DEFAULT_POST, PostConfig, extract, postprocess, read_audio
from speakerverify.models.speaker import DEFAULT_ADAPTATION, AdaptationConfig
from speakerverify.models.ubm import UBM, load_default_ubm, train_ubm

POST_VARIANTS = {
    "chosen: 30 dB, c1-12 + d + dd, CMN": DEFAULT_POST,
    "all frames (no energy selection)": replace(DEFAULT_POST, post_id="all-frames", dynamic_range_db=1e9),
    "frames within 20 dB": replace(DEFAULT_POST, post_id="20db", dynamic_range_db=20.0),
    "frames within 40 dB": replace(DEFAULT_POST, post_id="40db", dynamic_range_db=40.0),
    "no CMN": replace(DEFAULT_POST, post_id="no-cmn", cmn=False),
    "CMN + CVN": replace(DEFAULT_POST, post_id="cmvn", cvn=True),
    "keep c0": replace(DEFAULT_POST, post_id="c0", drop_c0=False),
    "statics + deltas only": replace(DEFAULT_POST, post_id="d-only", delta_order=1),
    "statics only": replace(DEFAULT_POST, post_id="static", delta_order=0),
}


@cache
def _ubm_raw(corpus: str) -> list[tuple]:
    wavs = sorted((Path(corpus) / "wav").glob("*.wav"))
    return [extract(read_audio(p)) for p in tqdm(wavs, desc="speechocean features", file=sys.stderr)]


@cache
def ubm_for(post: PostConfig, corpus: str) -> UBM:
    if post == DEFAULT_POST:
        return load_default_ubm()
    gmm = train_ubm([postprocess(m, e, post) for m, e in _ubm_raw(corpus)], 256, seed=0)
    return UBM(gmm, {"ubm_id": f"dev-{post.post_id}", "config_id": DEFAULT_CONFIG.config_id, "post_id": post.post_id})


def dev_eer(corpus: str, ubm: UBM, post: PostConfig, adaptation: AdaptationConfig, conditions, trials: int) -> dict:
    result = evaluate(
        corpus,
        ubm,
        ks=(3,),
        trials_per_speaker=trials,
        conditions=conditions,
        systems=("gmm-ubm-digit",),
        post=post,
        adaptation=adaptation,
        test_takes=DEV_TAKES,
    )
    return {r["condition"]: r["eer"] for r in result.records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--ubm-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    lines = [
        "### Adaptation (shipped UBM, dev trials, K = 3, gmm-ubm-digit, EER %)",
        "",
        "| speaker relevance | digit relevance | top-C | clean | noisy10 |",
        "|---:|---:|---:|---:|---:|",
    ]
    ubm = load_default_ubm()
    grid = [(r, rd, c) for r in (8, 16, 32) for rd in (2, 4, 8, 16) for c in (8,)]
    grid += [(DEFAULT_ADAPTATION.relevance, DEFAULT_ADAPTATION.digit_relevance, c) for c in (2, 4, 16, 0)]
    for r, rd, c in tqdm(grid, desc="adaptation grid", file=sys.stderr):
        cfg = AdaptationConfig(relevance=r, digit_relevance=rd, top_c=c)
        e = dev_eer(args.corpus, ubm, DEFAULT_POST, cfg, ("clean", "noisy10"), args.trials)
        mark = " (chosen)" if cfg == DEFAULT_ADAPTATION else ""
        lines.append(f"| {r} | {rd} | {c or 'all'}{mark} | {e['clean']:.2f} | {e['noisy10']:.2f} |")
        print(lines[-1], flush=True)

    lines += [
        "",
        "### Post-processing (a UBM trained per variant, dev trials, K = 3, gmm-ubm-digit, EER %)",
        "",
        "| variant | clean | noisy10 | UBM training s |",
        "|---|---:|---:|---:|",
    ]
    for name, post in tqdm(POST_VARIANTS.items(), desc="post-processing", file=sys.stderr):
        t0 = time.perf_counter()
        vubm = ubm_for(post, args.ubm_corpus)
        took = time.perf_counter() - t0
        e = dev_eer(args.corpus, vubm, post, DEFAULT_ADAPTATION, ("clean", "noisy10"), args.trials)
        lines.append(f"| {name} | {e['clean']:.2f} | {e['noisy10']:.2f} | {took if post != DEFAULT_POST else 0:.0f} |")
        print(lines[-1], flush=True)

    body = (
        "## Development tuning\n\n"
        "Settings chosen on trials from FSDD takes 6-24 (never reported elsewhere); "
        f"{args.trials} trials per speaker, seed 0. The shipped UBM's own training time is in UBM.md's script.\n\n"
        + "\n".join(lines)
    )
    if not args.no_write:
        write_section("tuning", "benchmarks/tune_dev.py", body)


if __name__ == "__main__":
    main()
