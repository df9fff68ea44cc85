"""Choosing ``NOISE_NORMALISATION``: honest answers in noise against crafted spectral edits, per weight.

    python benchmarks/noise_normalisation.py [--weights 0,0.3,0.4,0.5,0.7,1] [--takes dev|test]
        [--genuine 100] [--impostor 200] [--corpus ../shared/data/fsdd]
        [--babble-corpus ../shared/data/speechocean762-8k]

For each weight, the FSDD deployment of ``evaluation.deployment`` (6 speakers enrolled on takes 0-5, each
calibrated on the others) is built again with ``models.noise_signature.NOISE_NORMALISATION`` set to it, so
the cohort's trials and the answers are normalised alike. Then, per condition (clean; white, pink and babble
mixed into the audio at 20 and 10 dB), FRR of genuine and FAR of impostor answers (5 takes of distinct
digits), and per edit (``evaluation.crafted``; every answer an impostor's), the answers accepted. No
plausibility gate: the decision alone. Prints its table (BENCHMARKS.md "Noise: normalised by the noise
model" quotes it with the command).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.crafted import claimed_noise, flattened, scaled, smoothed
from speakerverify.evaluation.noise import mix
from speakerverify.features import extract, read_audio
from speakerverify.models import noise_signature
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.ubm import load_default_ubm
from speakerverify.voice.decision import Calibration

CONDITIONS: tuple[tuple[str | None, float | None], ...] = (
    (None, None),
    ("white", 20.0),
    ("pink", 20.0),
    ("babble", 20.0),
    ("white", 10.0),
    ("pink", 10.0),
    ("babble", 10.0),
)
Frames = tuple[np.ndarray, np.ndarray]
EDITS: dict[str, Callable[[np.ndarray, np.ndarray], Frames]] = {
    "flattened x0.6, claims 5.5 dB": lambda m, e: (flattened(m, 0.6), claimed_noise(e, 5.5)),
    "scaled x0.6": lambda m, e: (scaled(m, 0.6), e),
    "scaled x0.6, claims 10 dB": lambda m, e: (scaled(m, 0.6), claimed_noise(e, 10.0)),
    "smoothed 5, x0.7, claims 7 dB": lambda m, e: (flattened(smoothed(m, 5), 0.7), claimed_noise(e, 7.0)),
    "smoothed 5, x0.8, claims 7 dB": lambda m, e: (flattened(smoothed(m, 5), 0.8), claimed_noise(e, 7.0)),
    "smoothed 9, claims 10 dB": lambda m, e: (smoothed(m, 9), claimed_noise(e, 10.0)),
}


def _accepted(
    gmm: DiagGMM,
    users: list[deployment.User],
    calib: dict[str, Calibration],
    policy: VoicePolicy,
    sent: dict[deployment.TakeKey, Frames],
    trials: list[deployment.Trial],
) -> int:
    """How many of ``trials`` (answers of ``sent`` takes) the deployment accepts."""
    scored = deployment.score_takes(gmm, users, sent)
    return sum(deployment.decided(scored, calib[u], u, keys, policy)[2].accept for u, _, keys in trials)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=_floats, default=(0.0, 0.3, 0.4, 0.5, 0.7, 1.0))
    parser.add_argument("--takes", choices=list(deployment.ANSWER_TAKES), default="dev")
    parser.add_argument("--genuine", type=int, default=100, help="genuine answers per user")
    parser.add_argument("--impostor", type=int, default=200, help="impostor answers per user")
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    args = parser.parse_args()
    if args.genuine < 1 or args.impostor < 1 or any(w < 0 for w in args.weights):
        parser.error("--genuine and --impostor must be positive and every weight >= 0")
    policy, gmm = VoicePolicy(), load_default_ubm().gmm
    takes = deployment.ANSWER_TAKES[args.takes]
    t0 = time.perf_counter()
    feats: dict[str, dict[deployment.TakeKey, Frames]] = {}
    header = ["weight"]
    for kind, snr in CONDITIONS:
        name = "clean" if kind is None else f"{kind} {snr:g} dB"
        header += [f"{name} FRR / FAR %"]
    header += [f"{e}: accepted" for e in EDITS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for weight in args.weights:
        noise_signature.NOISE_NORMALISATION = weight  # read at call time by noise_normalised
        recs, speakers, users, rows = deployment.fsdd_deployment(gmm, args.corpus, policy)
        calib = deployment.calibrations(rows, policy)
        genuine = deployment.answer_trials(speakers, takes, args.genuine, 0, 1)
        impostor = deployment.answer_trials(speakers, takes, 0, args.impostor, 0)
        if not feats:
            for kind, snr in CONDITIONS:
                name = "clean" if kind is None else f"{kind}{snr:g}"
                feats[name] = {}
                for r in recs:
                    if r.take in takes:
                        x = read_audio(r.path)
                        if kind is not None:
                            x = mix(x, kind, snr, r.path.name, args.babble_corpus)
                        m, e = extract(x)
                        feats[name][(r.speaker, r.digit, r.take)] = (m.astype(np.float32), e.astype(np.float32))
        accepted = partial(_accepted, gmm, users, calib, policy)

        cells = [f"{weight:g}"]
        for sent in feats.values():
            frr = 100 * (1 - accepted(sent, genuine) / len(genuine))
            far = 100 * accepted(sent, impostor) / len(impostor)
            cells.append(f"{frr:.2f} / {far:.2f}")
        for edit in EDITS.values():
            a = accepted({k: edit(m, e) for k, (m, e) in feats["clean"].items()}, impostor)
            cells.append(f"{a} of {len(impostor)}")
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{args.takes} takes, {len(genuine)} genuine / {len(impostor)} impostor answers per condition\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
