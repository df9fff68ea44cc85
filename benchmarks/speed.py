"""Library speed: adding one take to a speaker model, and scoring a 5-digit trial.

    python benchmarks/speed.py [--corpus ../shared/data/fsdd] [--repeats 200]

Median (and p95) wall time of repeated runs, one process, after a warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.features import extract, postprocess, read_audio
from speakerverify.models.cohort import take_llr_sums, trial_scores
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means, utterance_stats
from speakerverify.models.ubm import load_default_ubm


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()

    ubm = load_default_ubm().gmm
    recs = [r for r in read_fsdd(args.corpus) if r.speaker == "jackson"]
    raw = {(r.digit, r.take): extract(read_audio(r.path)) for r in recs if r.take < 10}
    one_second = extract(np.concatenate([read_audio(r.path) for r in recs[:3]])[:8000])
    assert len(one_second[1]) == 1 + (8000 - 256) // 80

    model6 = SpeakerModel.empty(ubm.n_components, ubm.dim)
    for (d, t), (m, e) in raw.items():
        if t < 6:
            model6 = model6.add(d, utterance_stats(ubm, postprocess(m, e)))
    model600 = SpeakerModel(model6.n * 10, model6.f * 10, model6.takes * 10)

    def add_take(model: SpeakerModel) -> SpeakerModel:
        return model.add(4, utterance_stats(ubm, postprocess(*one_second)))

    trial = [(d, raw[(d, 7)]) for d in (3, 1, 4, 5, 9)]
    means = digit_means(ubm, model6)
    frames = sum(len(postprocess(*fe)) for _, fe in trial)

    def score(digit_model_means, top_c: int = DEFAULT_ADAPTATION.top_c) -> float:
        segments = [(d, postprocess(*fe)) for d, fe in trial]
        sums, counts = take_llr_sums(ubm, digit_model_means, segments, top_c)
        return float(trial_scores(sums, counts, [np.arange(len(segments))])[0])

    def score_cached() -> float:
        return score(means)

    def score_with_adaptation() -> float:
        return score(digit_means(ubm, model6))

    rows = [
        ("add one 1-s take (100 frames) to a model of 60 takes", *timed(lambda: add_take(model6), args.repeats)),
        ("add one 1-s take to a model of 600 takes", *timed(lambda: add_take(model600), args.repeats)),
        (f"score a 5-digit trial ({frames} speech frames), digit means cached", *timed(score_cached, args.repeats)),
        ("score a 5-digit trial, MAP means derived from statistics", *timed(score_with_adaptation, args.repeats)),
        ("score a 5-digit trial, all 256 components (no top-C)", *timed(lambda: score(means, 0), args.repeats)),
    ]
    table = "| operation | median ms | p95 ms |\n|---|---:|---:|\n" + "\n".join(
        f"| {name} | {med:.2f} | {p95:.2f} |" for name, med, p95 in rows
    )
    body = (
        "## Library speed\n\n"
        f"{args.repeats} repeats after a warm-up, one process, UBM 256 x 36, top-8 scoring. "
        "Post-processing of the raw Meyda frames is included in every row.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("speed", "benchmarks/speed.py", body)


if __name__ == "__main__":
    main()
