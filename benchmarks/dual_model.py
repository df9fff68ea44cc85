"""Two speaker models per user (take-only and take+copies) and rules that combine an answer's scores against
them: library-level EER per condition, and FRR at each user's clean 1%-FAR point (the claimed-noise floor).

    python benchmarks/dual_model.py [--takes dev|test] [--trials 100] [--no-write]

Enrolment takes 0-5, each speaker's digit models built twice (``NO_COPIES``: the take-only model, and
``DEFAULT_RECIPE``: the product's model with the noisy copies); every utterance of the chosen takes scored
against both (bounded frame LLR, as the service scores) and its noise signature (``models.noise_signature``)
measured on the same frames. Rules, per utterance (segment) or per answer:

* evidence rules: w = clip((s - lo) / (hi - lo)) of the answer's signature s, score (1 - w) take + w copies;
* score-only rules: max(take-only, copies - m) per segment, no evidence the claimant could fake.

Columns ``EER K=3``: every trial against every speaker's model, pooled as ``speakerverify eval`` pools them.
Columns ``FRR @ clean floor K=5``: each user's threshold is the 99th percentile of the clean impostor answers'
scores against its model (the FAR-1% clean point that ``voice.decision.Calibration.operating_point`` never
goes below); the share of genuine answers in the condition below it, averaged over users. This is where a
score rule meets the product: answers in babble are held near that point (their signature is small).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from report import write_section

from speakerverify.evaluation import metrics
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.protocol import DEV_TAKES, ENROL_TAKES, TEST_TAKES, make_trials
from speakerverify.evaluation.runner import CONDITIONS, DEFAULT_BABBLE_CORPUS, _features
from speakerverify.features import DEFAULT_POST, postprocess
from speakerverify.models.frame_bounds import bound_frame_llr
from speakerverify.models.noise_signature import frame_signature, noise_model_terms
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES, take_stats
from speakerverify.models.scoring import align, model_terms, terms_frame_llr
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm

CONDS = ("clean", "white20", "pink20", "babble20", "white10", "pink10", "babble10")
Utt = dict[str, np.ndarray]  # "take", "copies": (U, S) summed LLR; "count": (U,) frames; "sig": (U,) summed signature
Rule = Callable[[Utt, list[list[int]]], np.ndarray]  # -> (trials, S) scores


def _pool(x: np.ndarray, utt: Utt, rows: list[list[int]]) -> np.ndarray:
    """Trial scores (n, S): the summed scores (U, S) of each trial's utterances over its frames."""
    return np.stack([x[r].sum(axis=0) for r in rows]) / np.array([utt["count"][r].sum() for r in rows])[:, None]


def _spread(utt: Utt, rows: list[list[int]]) -> str:
    """Median (10th-90th percentile) of the answers' noise signatures."""
    sig = [utt["sig"][r].sum() / utt["count"][r].sum() for r in rows]
    p10, p50, p90 = np.percentile(sig, [10, 50, 90])
    return f"{p50:.2f} ({p10:.2f} to {p90:.2f})"


def answer_rows(
    speakers: list[str], test: list, per_speaker: int, takes: tuple[int, ...]
) -> dict[int, tuple[list[list[int]], np.ndarray]]:
    """For K = 3 and 5: each trial's utterances as indices into ``test``, and the index of its speaker."""
    index = {(r.speaker, r.digit, r.take): i for i, r in enumerate(test)}
    split = {}
    for k in (3, 5):
        trials = make_trials(speakers, k, per_speaker, 0, takes)
        owner = np.array([speakers.index(t.speaker) for t in trials])
        split[k] = ([[index[(t.speaker, d, tk)] for d, tk in t.segments] for t in trials], owner)
    return split


def _blend(lo: float, hi: float) -> Rule:
    def rule(utt: Utt, rows: list[list[int]]) -> np.ndarray:
        sig = np.array([utt["sig"][r].sum() for r in rows]) / np.array([utt["count"][r].sum() for r in rows])
        w = np.clip((sig - lo) / (hi - lo), 0, 1)[:, None]
        return (1 - w) * _pool(utt["take"], utt, rows) + w * _pool(utt["copies"], utt, rows)

    return rule


def _segment_max(m: float) -> Rule:
    def rule(utt: Utt, rows: list[list[int]]) -> np.ndarray:
        fused = np.maximum(utt["take"], utt["copies"] - m * utt["count"][:, None])
        return _pool(fused, utt, rows)

    return rule


RULES: dict[str, Rule] = {
    "take-only model": lambda u, r: _pool(u["take"], u, r),
    "copies model (the product)": lambda u, r: _pool(u["copies"], u, r),
    "signature blend, lo 0.05 hi 0.25": _blend(0.05, 0.25),
    "signature blend, lo 0.0 hi 0.1": _blend(0.0, 0.1),
    "signature switch at 0.15": _blend(0.15 - 1e-9, 0.15),
    "max(take, copies - 0) per segment": _segment_max(0.0),
    "max(take, copies - 0.1) per segment": _segment_max(0.1),
    "max(take, copies - 0.25) per segment": _segment_max(0.25),
}


def _score_utterances(corpus: str, babble: str, takes: tuple[int, ...]) -> tuple[list[str], list, dict[str, Utt]]:
    gmm = load_default_ubm().gmm
    noise_terms = noise_model_terms(gmm)
    assert noise_terms is not None, "the shipped UBM has a noise model"
    recs = read_fsdd(corpus)
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
    out = {}
    for cond in CONDS:
        utt: Utt = {n: np.zeros((len(test), len(speakers))) for n in ("take", "copies")}
        utt["count"], utt["sig"] = np.zeros(len(test)), np.zeros(len(test))
        for u, r in enumerate(test):
            feats = postprocess(*_features(r, CONDITIONS[cond], babble)["default"], DEFAULT_POST)
            aligned = align(gmm, feats, DEFAULT_ADAPTATION.top_c)
            utt["count"][u], utt["sig"][u] = len(feats), frame_signature(noise_terms, feats, aligned).sum()
            for n in ("take", "copies"):
                for j, spk in enumerate(speakers):
                    utt[n][u, j] = bound_frame_llr(terms_frame_llr(terms[(n, spk)], feats, aligned)[r.digit]).sum()
        out[cond] = utt
        print(cond, flush=True)
    return speakers, test, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default=DEFAULT_BABBLE_CORPUS)
    parser.add_argument("--takes", choices=("dev", "test"), default="dev")
    parser.add_argument("--trials", type=int, default=100, help="trials per speaker and K")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    takes = DEV_TAKES if args.takes == "dev" else TEST_TAKES
    t0 = time.perf_counter()
    speakers, test, utts = _score_utterances(args.corpus, args.babble_corpus, takes)
    split = answer_rows(speakers, test, args.trials, takes)
    head = "| rule | " + " | ".join(f"{c}" for c in CONDS) + " |"
    tables = {"eer": [head, "|---|" + "---:|" * len(CONDS)], "floor": [head, "|---|" + "---:|" * len(CONDS)]}
    for name, rule in RULES.items():
        eer_cells, floor_cells = [], []
        rows3, owner3 = split[3]
        rows5, owner5 = split[5]
        clean5 = rule(utts["clean"], rows5)
        floor = [np.quantile(clean5[owner5 != j, j], 0.99) for j in range(len(speakers))]
        for cond in CONDS:
            s3 = rule(utts[cond], rows3)
            is_target = owner3[:, None] == np.arange(len(speakers))[None, :]
            eer_cells.append(f"{100 * metrics.eer(s3[is_target], s3[~is_target]):.2f}")
            s5 = rule(utts[cond], rows5)
            frr = np.mean([np.mean(s5[owner5 == j, j] < floor[j]) for j in range(len(speakers))])
            floor_cells.append(f"{100 * frr:.1f}")
        tables["eer"].append(f"| {name} | " + " | ".join(eer_cells) + " |")
        tables["floor"].append(f"| {name} | " + " | ".join(floor_cells) + " |")
    sig = ", ".join(f"{c} {_spread(utts[c], split[3][0])}" for c in CONDS)
    took = time.perf_counter() - t0
    print("\n".join(tables["eer"]), "\n\n", "\n".join(tables["floor"]), "\n", sig, flush=True)
    if args.no_write:
        return
    body = "\n\n".join(
        [
            f"## Noise: a take-only and a copies model per user ({args.takes} takes)",
            f"`benchmarks/dual_model.py --takes {args.takes} --trials {args.trials}` ({args.trials} trials per "
            f"speaker and K; run {took:.0f} s). EER % at K = 3, every trial against every speaker's model:",
            "\n".join(tables["eer"]),
            "FRR % of K = 5 genuine answers below each user's clean 1%-FAR point (the 99th percentile of its "
            "clean impostor answers' scores under the same rule; the claimed-noise floor):",
            "\n".join(tables["floor"]),
            f"K = 3 answers' noise signature, median (10th to 90th percentile): {sig}.",
        ]
    )
    write_section(f"dual-{args.takes}", "benchmarks/dual_model.py", body)


if __name__ == "__main__":
    main()
