"""Enrolment length: EER and FRR at FAR 1% against takes per digit (2-6), clean and noisy test side.

    python benchmarks/enrol_length.py [--corpus ../shared/data/fsdd] [--trials 400] [--write]

The product's own model building (``voice.takes.rebuild_model`` over stored-take rows, the shipped UBM,
the default adaptation) from FSDD takes 0..N-1 of every digit; 5-digit trials of takes 25-49 (the
reported protocol's test takes), each scored as the service scores an answer: the frame-weighted mean
bounded frame LLR of each segment against the prompted digit's model (raw, before any calibration).
Every trial is scored against every speaker: target for its own, impostor for the five others. Noise
(``evaluation.noise.mix``, white, 20 dB) is on the test side only. Main's model building at the time
of writing: clean takes only (no noisy copies of the enrolment takes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.evaluation import metrics, noise
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.protocol import TEST_TAKES, make_trials
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.cohort import take_llr_sums
from speakerverify.models.speaker import DEFAULT_ADAPTATION, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.arrays import encode_f32
from speakerverify.storage.tables import Utterance
from speakerverify.voice.takes import rebuild_model

LENGTHS = (2, 3, 4, 5, 6)
CONDITIONS = {"clean": None, "white 20 dB": ("white", 20.0)}


def stored_take(digit: int, mfcc: np.ndarray, energy: np.ndarray) -> Utterance:
    """A take as the service stores it (not added to any database)."""
    return Utterance(
        digit=digit,
        n_frames=len(mfcc),
        n_mfcc=mfcc.shape[1],
        mfcc=encode_f32(mfcc),
        energy=encode_f32(energy),
        suspect_digit=None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/work/shared/data/fsdd")
    parser.add_argument("--trials", type=int, default=400, help="5-digit trials per speaker")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    ubm = load_default_ubm().gmm
    recs = read_fsdd(args.corpus)
    speakers = sorted({r.speaker for r in recs})
    raw = {(r.speaker, r.digit, r.take): r.path for r in recs}
    enrol = {(s, d, t): extract(read_audio(raw[s, d, t])) for s in speakers for d in range(10) for t in range(6)}
    test_keys = [(s, d, t) for s in speakers for d in range(10) for t in TEST_TAKES]
    trials = make_trials(speakers, 5, args.trials, seed=0, takes=TEST_TAKES)
    index = {key: i for i, key in enumerate(test_keys)}
    trial_idx = [np.array([index[t.speaker, d, n] for d, n in t.segments]) for t in trials]
    owner = np.array([speakers.index(t.speaker) for t in trials])
    rows = [
        "| takes per digit | condition | EER % | FRR % at FAR 1% | target / impostor trials |",
        "|---|---|---:|---:|---:|",
    ]
    for cond, spec in CONDITIONS.items():
        test = []
        for key in test_keys:
            x = read_audio(raw[key])
            if spec is not None:
                x = noise.mix(x, spec[0], spec[1], key=raw[key].name)
            test.append((key[1], postprocess(*extract(x), DEFAULT_POST)))
        for n in LENGTHS:
            scores = np.zeros((len(trials), len(speakers)))
            for j, spk in enumerate(speakers):
                model = rebuild_model(ubm, [stored_take(d, *enrol[spk, d, t]) for t in range(n) for d in range(10)])
                sums, counts = take_llr_sums(ubm, digit_means(ubm, model, DEFAULT_ADAPTATION), test)
                scores[:, j] = [sums[i].sum() / max(counts[i].sum(), 1) for i in trial_idx]
            own = scores[np.arange(len(trials)), owner]
            others = scores[np.arange(len(speakers))[None, :] != owner[:, None]]
            eer = 100 * metrics.eer(own, others)
            frr = 100 * metrics.frr_at_far(own, others, 0.01)
            line = f"| {n} | {cond} | {eer:.2f} | {frr:.2f} | {len(own)} / {len(others)} |"
            print(line, flush=True)
            rows.append(line)
    if args.write:
        write_section(
            "enrol-length", "benchmarks/enrol_length.py", __doc__.split("\n\n", 2)[2] + "\n\n" + "\n".join(rows)
        )


if __name__ == "__main__":
    main()
