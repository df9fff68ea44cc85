"""Two speaker models per user (take-only and take+copies), the answer scored against a blend chosen by its
noise signature: library-level EER per condition (development takes unless --takes test).

    python benchmarks/dual_model.py [--takes dev|test] [--trials 100]

Enrolment takes 0-5, each speaker's digit models built twice (``NO_COPIES`` and ``DEFAULT_RECIPE``); every
answer's utterances scored against both and its noise signature (``models.noise_signature``) measured on
the same frames; K = 3 trials as ``speakerverify eval`` pools them. A rule maps the answer's signature s to
a weight w in [0, 1] on the copies model: score = (1 - w) llr_take_only + w llr_copies.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from report import write_section

from speakerverify.evaluation import metrics
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.protocol import DEV_TAKES, ENROL_TAKES, TEST_TAKES, make_trials
from speakerverify.evaluation.runner import CONDITIONS, DEFAULT_BABBLE_CORPUS, _features
from speakerverify.features import DEFAULT_POST, postprocess
from speakerverify.models.noise_signature import frame_signature, noise_model_terms
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES, take_stats
from speakerverify.models.scoring import align, model_terms, terms_frame_llr
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm

CONDS = ("clean", "white20", "pink20", "babble20", "white10", "pink10", "babble10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default=DEFAULT_BABBLE_CORPUS)
    parser.add_argument("--takes", choices=("dev", "test"), default="dev")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    takes = DEV_TAKES if args.takes == "dev" else TEST_TAKES
    t0 = time.perf_counter()
    ubm = load_default_ubm()
    gmm = ubm.gmm
    noise_terms = noise_model_terms(gmm)
    assert noise_terms is not None
    recs = read_fsdd(args.corpus)
    speakers = sorted({r.speaker for r in recs})
    terms = {}
    for name, recipe in (("take", NO_COPIES), ("copies", DEFAULT_RECIPE)):
        for spk in speakers:
            model = SpeakerModel.empty(gmm.n_components, gmm.dim)
            for r in recs:
                if r.speaker == spk and r.take in ENROL_TAKES:
                    raw = _features(r, None, "")["default"]
                    model = model.add(r.digit, take_stats(gmm, *raw, DEFAULT_POST, recipe))
            terms[(name, spk)] = model_terms(gmm, digit_means(gmm, model, DEFAULT_ADAPTATION), dtype=np.float32)
    test = [r for r in recs if r.take in takes]
    index = {(r.speaker, r.digit, r.take): i for i, r in enumerate(test)}
    trials = make_trials(speakers, 3, args.trials, 0, takes)
    rows = [[index[(t.speaker, d, tk)] for d, tk in t.segments] for t in trials]
    owner = np.array([speakers.index(t.speaker) for t in trials])
    is_target = owner[:, None] == np.arange(len(speakers))[None, :]
    pooled = {}
    for cond in CONDS:
        sums = {n: np.zeros((len(test), len(speakers))) for n in ("take", "copies")}
        count = np.zeros(len(test))
        sig = np.zeros(len(test))
        for u, r in enumerate(test):
            feats = postprocess(*_features(r, CONDITIONS[cond], args.babble_corpus)["default"], DEFAULT_POST)
            al = align(gmm, feats, DEFAULT_ADAPTATION.top_c)
            count[u] = len(feats)
            sig[u] = frame_signature(noise_terms, feats, al).sum()
            for n in ("take", "copies"):
                for j, spk in enumerate(speakers):
                    sums[n][u, j] = terms_frame_llr(terms[(n, spk)], feats, al)[r.digit].sum()
        np.savez(f"/tmp/dual_utt_{cond}.npz", take=sums["take"], copies=sums["copies"], count=count, sig=sig)
        c = np.array([count[rw].sum() for rw in rows])
        pooled[cond] = (
            {n: np.stack([sums[n][rw].sum(axis=0) for rw in rows]) / c[:, None] for n in sums},
            np.array([sig[rw].sum() for rw in rows]) / c,
        )
        print(cond, f"{time.perf_counter() - t0:.0f}s", flush=True)
    np.savez(
        "/tmp/dual_pooled.npz",
        **{f"{c}|{n}": pooled[c][0][n] for c in CONDS for n in ("take", "copies")},
        **{f"{c}|sig": pooled[c][1] for c in CONDS},
        is_target=is_target,
    )
    rules = {
        "take only": lambda s: np.zeros_like(s),
        "copies (product)": lambda s: np.ones_like(s),
    }
    for lo, hi in ((0.05, 0.25), (0.08, 0.3), (0.1, 0.3), (0.1, 0.4), (0.15, 0.35), (0.0, 0.4)):
        rules[f"w = clip((s - {lo}) / {hi - lo:.2f})"] = lambda s, lo=lo, hi=hi: np.clip((s - lo) / (hi - lo), 0, 1)
    for cut in (0.15, 0.2, 0.25):
        rules[f"switch at s >= {cut}"] = lambda s, cut=cut: (s >= cut).astype(float)
    lines = ["| rule | " + " | ".join(CONDS) + " |", "|---|" + "---:|" * len(CONDS)]
    for name, rule in rules.items():
        cells = []
        for cond in CONDS:
            llr, s = pooled[cond]
            w = rule(s)[:, None]
            score = (1 - w) * llr["take"] + w * llr["copies"]
            cells.append(f"{100 * metrics.eer(score[is_target], score[~is_target]):.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sig_line = "median answer signature: " + ", ".join(f"{c} {np.median(pooled[c][1]):.3f}" for c in CONDS)
    print("\n".join(lines), "\n", sig_line, flush=True)
    if args.write:
        body = "\n\n".join(
            [
                f"## Noise: a take-only and a copies model per user ({args.takes} takes)",
                f"`benchmarks/dual_model.py --takes {args.takes} --trials {args.trials}`: K = 3, gmm-ubm-digit, EER %; "
                f"run {time.perf_counter() - t0:.0f} s.",
                "\n".join(lines),
                sig_line,
            ]
        )
        write_section(f"dual-{args.takes}", "benchmarks/dual_model.py", body)


if __name__ == "__main__":
    main()
