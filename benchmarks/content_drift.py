"""Verification's content check against the order FSDD's takes were recorded in (library level).

    python benchmarks/content_drift.py [--corpus ../shared/data/fsdd] [--no-write]

Each FSDD speaker says every digit 50 times in one sitting, and the protocol enrols takes 0-5, tunes on
6-24 and reports on 25-49: the later a take, the further it is from the enrolment. This measures what that
distance does to the content check verification makes of every segment (``voice.decision.score_answer``:
the prompted digit's model must not trail the best other digit of the speaker's own voice models by more
than ``VoicePolicy.content_margin``). Built as ``noise_operating_point.py`` builds its deployment
(``evaluation.deployment``: takes 0-5 enrolled with their noisy copies, clean takes scored as the b64
form's float32 frames). Per group of takes: the genuine segments' margins (median, 5th percentile), the
share failing at the product's margin (and the share of 5-digit answers that would, taking segments as
independent), and the share of wrong-digit claims passing (a take said as d, claimed as each other digit).
A margin sweep gives the same shares for the development and the test takes. Nothing is chosen here.
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
from speakerverify.features import extract, read_audio
from speakerverify.models.digits import content_margin
from speakerverify.models.ubm import load_default_ubm

GROUPS = ((6, 11), (12, 17), (18, 24), (25, 30), (31, 36), (37, 42), (43, 49))
MARGINS = (0.4, 0.6, 0.8, 1.0)


def margins_by_take(corpus: str, policy: VoicePolicy) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per take index 6-49: (genuine margins (n,), wrong-claim margins (9n,)) of every speaker's take of every
    digit long enough to score, against the speaker's own voice models."""
    gmm = load_default_ubm().gmm
    recs, _speakers, users, _rows = deployment.fsdd_deployment(gmm, corpus, policy)
    feats = {}
    for r in recs:
        if r.take >= deployment.ENROL_TAKES[-1] + 1:
            mfcc, energy = extract(read_audio(r.path))
            feats[(r.speaker, r.digit, r.take)] = (np.float32(mfcc), np.float32(energy))
    scored = deployment.score_takes(gmm, users, feats)
    out: dict[int, tuple[list[float], list[float]]] = {}
    for spk, digit, take in feats:
        if scored.frames[(spk, digit, take)] < policy.min_speech_frames:
            continue  # refused as too short before the content check
        row = scored.rows[(spk, spk, digit, take)]
        genuine, wrong = out.setdefault(take, ([], []))
        genuine.append(content_margin(row, digit))
        wrong.extend(content_margin(row, other) for other in range(10) if other != digit)
    return {t: (np.array(g), np.array(w)) for t, (g, w) in out.items()}


def _pooled(by_take: dict[int, tuple[np.ndarray, np.ndarray]], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    takes = [t for t in by_take if lo <= t <= hi]
    return np.concatenate([by_take[t][0] for t in takes]), np.concatenate([by_take[t][1] for t in takes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    policy = VoicePolicy()
    m = policy.content_margin
    by_take = margins_by_take(args.corpus, policy)
    lines = [
        f"`benchmarks/content_drift.py`: the six speakers' clean takes against their own voice models (enrolled "
        f"from takes 0-5); margin = the prompted digit's mean frame LLR minus the best other digit's; the "
        f"product's content margin {m}. Answers of 5 fail if any segment does (segments taken as independent). "
        f"Run {time.perf_counter() - t0:.0f} s.",
        "",
        "| takes | genuine segments | median margin | 5th percentile | genuine failing % | 5-digit answers "
        "failing % | wrong claims passing % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for lo, hi in GROUPS:
        genuine, wrong = _pooled(by_take, lo, hi)
        fail = float(np.mean(genuine < -m))
        lines.append(
            f"| {lo}-{hi} | {len(genuine)} | {np.median(genuine):.2f} | {np.percentile(genuine, 5):.2f} | "
            f"{100 * fail:.2f} | {100 * (1 - (1 - fail) ** 5):.2f} | {100 * np.mean(wrong >= -m):.2f} |"
        )
    lines += [
        "",
        "| margin | development takes 6-24: genuine failing % / wrong passing % | test takes 25-49: the same |",
        "|---:|---:|---:|",
    ]
    for margin in MARGINS:
        cells = []
        for lo, hi in ((6, 24), (25, 49)):
            genuine, wrong = _pooled(by_take, lo, hi)
            cells.append(f"{100 * np.mean(genuine < -margin):.2f} / {100 * np.mean(wrong >= -margin):.2f}")
        lines.append(f"| {margin} | {cells[0]} | {cells[1]} |")
    print("\n".join(lines))
    if not args.no_write:
        write_section(
            "content-drift",
            "benchmarks/content_drift.py",
            "## Verification's content check and the recording order (library level)\n\n" + "\n".join(lines),
        )


if __name__ == "__main__":
    main()
