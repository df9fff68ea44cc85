"""How sharp the enrolment re-check is against the number of takes behind it (development takes only).

    python benchmarks/enrol_margins.py [--draws 4] [--write]

For each FSDD speaker and draw, k + 1 development takes (6-24) of every digit make a model (the product's
statistics: ``voice.takes.contribution``, the noisy copies included); one take of the prompted digit d
is left out, as the re-check leaves the checked take out, so d's model holds k takes. Probes never in
the model: genuine takes of d, and takes of the other digits labelled d (a microphone saying a wrong
digit). Each is checked as ``models.digits.check_takes`` does (its digit's score minus the best other
digit's); the table gives, per margin, the share of genuine takes (%) and of wrong takes (%) below it,
the first the re-check would flag wrongly, the second rightly. Clean models (no other mislabelled
take in them): an upper bound on what a margin can do, used to choose ``enrol_settled_flag_margin``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from enrol_check import SPEAKERS, context, frames
from report import write_section

from speakerverify.evaluation.protocol import DEV_TAKES
from speakerverify.features import postprocess
from speakerverify.models.digits import check_takes
from speakerverify.models.speaker import SpeakerModel
from speakerverify.storage import utterances
from speakerverify.voice.takes import contribution

MARGINS = (-1.0, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3)


def takes_of(ctx, root: str, speaker: str) -> dict:
    """(digit, take): (features (T, D), statistics as enrolment adds them) for the development takes."""
    rt, out = ctx.voice, {}
    for d in range(10):
        for t in DEV_TAKES:
            mfcc, energy = utterances.as_stored(*frames(root, speaker, d, t))
            out[(d, t)] = (
                postprocess(mfcc, energy, rt.post),
                contribution(rt.ubm.gmm, mfcc, energy, rt.post, rt.recipes.content),
            )
    return out


def margins(ctx, data: dict, k: int, rng: np.random.Generator) -> tuple[list[float], list[float]]:
    """Genuine and wrong probes' margins, d's model holding k takes, the others k + 1."""
    gmm, cfg = ctx.voice.ubm.gmm, ctx.voice.adaptation
    perm = {d: list(rng.permutation(DEV_TAKES)) for d in range(10)}
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for d in range(10):
        for t in perm[d][: k + 1]:
            model = model.add(d, data[(d, t)][1])
    genuine, wrong = [], []
    for d in range(10):
        rest = model.remove(d, data[(d, perm[d][0])][1])
        probes = [((d, t), True) for t in perm[d][7:13]]
        probes += [((e, t), False) for e in range(10) if e != d for t in perm[e][7:9]]
        checks = check_takes(gmm, rest, [(d, data[key][0], data[key][1], False) for key, _ in probes], cfg)
        for (_, real), c in zip(probes, checks, strict=True):
            (genuine if real else wrong).append(c.margin)
    return genuine, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/work/shared/data/fsdd")
    parser.add_argument("--draws", type=int, default=4, help="enrolments drawn per speaker and k")
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    found: dict[int, tuple[list[float], list[float]]] = {k: ([], []) for k in range(1, 6)}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(Path(tmp), None)
        for speaker in SPEAKERS:
            data = takes_of(ctx, args.corpus, speaker)
            for _ in range(args.draws):
                for k in found:
                    g, w = margins(ctx, data, k, rng)
                    found[k][0].extend(g)
                    found[k][1].extend(w)
        ctx.db.dispose()
    head = "| other takes of the digit | genuine / wrong probes | " + " | ".join(f"below {m}" for m in MARGINS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(MARGINS)]
    for k, (g, w) in found.items():
        ga, wa = np.array(g), np.array(w)
        cells = " | ".join(f"{100 * np.mean(ga < m):.2f} / {100 * np.mean(wa < m):.1f}" for m in MARGINS)
        lines.append(f"| {k} | {len(ga)} / {len(wa)} | {cells} |")
    body = (
        f"FSDD development takes, {len(SPEAKERS)} speakers x {args.draws} draws; each cell: % of genuine "
        "takes / % of wrong takes whose margin is below the column's\n\n" + "\n".join(lines)
    )
    print(body)
    if args.write:
        write_section("enrol-margins", "benchmarks/enrol_margins.py", body)


if __name__ == "__main__":
    main()
