"""Babble copies in the speaker models: which, measured where babble hurts most (development takes).

    python benchmarks/babble_copies.py [--trials 100] [--no-write]

Enrolment takes 0-5, each speaker's digit models built with each candidate recipe (the
stationary copies, plus babble copies drawn from the shipped babble model, ``models.babble``); utterances of
takes 6-24 (never reported) scored as the service scores them (bounded frame LLRs less the noise signature,
``noise_normalised``). The test babble is mixed from the speechocean762 speakers the babble model was *not*
estimated from (the odd ones in sorted order, ``scripts/build_babble_model.py`` took the even ones), so a
copy cannot have met the voices it is tested with.

Cells: EER % at K = 3 (every trial against every speaker's model, pooled as ``speakerverify eval`` pools)
/ FRR % of K = 5 genuine answers below the user's clean 1%-FAR point (the 99th percentile of its clean
impostor answers' scores under the same models): answers in babble are held near that point, since their
noise signature is small ("Noise: the answer's noise signature").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from dual_model import answer_rows
from report import write_section

from speakerverify.evaluation import metrics, noise
from speakerverify.evaluation.corpus import Recording, read_fsdd
from speakerverify.evaluation.protocol import DEV_TAKES, ENROL_TAKES
from speakerverify.evaluation.runner import CONDITIONS, DEFAULT_BABBLE_CORPUS
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.frame_bounds import bound_frame_llr
from speakerverify.models.noise_signature import frame_signature, noise_model_terms, noise_normalised
from speakerverify.models.noisy_copies import STATIONARY_RECIPE, CopyCondition, CopyRecipe, take_stats
from speakerverify.models.scoring import align, model_terms, terms_frame_llr
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored

CONDS = ("clean", "white20", "white10", "babble20", "babble10", "babble5")


def _with(name: str, *extra: CopyCondition, drop_speech: bool = False) -> CopyRecipe:
    kept = tuple(c for c in STATIONARY_RECIPE.conditions if not (drop_speech and c.kind == "speech"))
    return CopyRecipe(name, (*kept, *extra), STATIONARY_RECIPE.weight)


RECIPES = {
    "stationary copies (STATIONARY_RECIPE)": STATIONARY_RECIPE,
    "+ babble 15, 8": _with("b15-b8", CopyCondition("babble", 15.0), CopyCondition("babble", 8.0)),
    "+ babble 12": _with("b12", CopyCondition("babble", 12.0)),
    "+ babble 10, 5": _with("b10-b5", CopyCondition("babble", 10.0), CopyCondition("babble", 5.0)),
    "speech-shaped 15 -> babble 15, 8 (DEFAULT_RECIPE)": _with(
        "s-b15-b8", CopyCondition("babble", 15.0), CopyCondition("babble", 8.0), drop_speech=True
    ),
    "DEFAULT_RECIPE + white 10 (a lead, not adopted)": _with(
        "s-b15-b8-w10",
        CopyCondition("babble", 15.0),
        CopyCondition("babble", 8.0),
        CopyCondition("white", 10.0),
        drop_speech=True,
    ),
}


def _answer_audio(rec: Recording, cond: str, pool: tuple[np.ndarray, ...]) -> np.ndarray:
    x = read_audio(rec.path)
    if cond == "clean":
        return x
    kind, snr = CONDITIONS[cond]
    return noise.mix(x, kind, snr, rec.path.name, babble_pool=pool)


def _pooled(scored: tuple[np.ndarray, np.ndarray], rows: list[list[int]]) -> np.ndarray:
    """Answer scores (n, S): each answer's utterance scores (U, S) summed over its frames, per frame."""
    s, n = scored
    return np.stack([s[r].sum(axis=0) for r in rows]) / np.array([n[r].sum() for r in rows])[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default=DEFAULT_BABBLE_CORPUS)
    parser.add_argument("--trials", type=int, default=100, help="trials per speaker and K")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    gmm = load_default_ubm().gmm
    signature_terms = noise_model_terms(gmm)
    assert signature_terms is not None, "the shipped UBM has a noise model"
    pool = noise.talker_signals(args.babble_corpus)[1::2]
    recs = read_fsdd(args.corpus)
    speakers = sorted({r.speaker for r in recs})
    enrol = {id(r): as_stored(*extract(read_audio(r.path))) for r in recs if r.take in ENROL_TAKES}
    test = [r for r in recs if r.take in DEV_TAKES]
    feats = {c: [postprocess(*extract(_answer_audio(r, c, pool)), DEFAULT_POST) for r in test] for c in CONDS}
    aligned = {c: [align(gmm, f, DEFAULT_ADAPTATION.top_c) for f in feats[c]] for c in CONDS}
    split = answer_rows(speakers, test, args.trials, DEV_TAKES)

    lines = ["| copies | " + " | ".join(CONDS) + " |", "|---|" + "---:|" * len(CONDS)]
    for name, recipe in RECIPES.items():
        terms = {}
        for spk in speakers:
            model = SpeakerModel.empty(gmm.n_components, gmm.dim)
            for r in recs:
                if r.speaker == spk and r.take in ENROL_TAKES:
                    model = model.add(r.digit, take_stats(gmm, *enrol[id(r)], DEFAULT_POST, recipe))
            terms[spk] = model_terms(gmm, digit_means(gmm, model, DEFAULT_ADAPTATION), dtype=np.float32)
        scores = {}
        for c in CONDS:
            llr = np.zeros((len(test), len(speakers)))  # summed over each utterance's frames
            count, signature = np.zeros(len(test)), np.zeros(len(test))
            for u, r in enumerate(test):
                f, a = feats[c][u], aligned[c][u]
                count[u], signature[u] = len(f), frame_signature(signature_terms, f, a).sum()
                for j, spk in enumerate(speakers):
                    llr[u, j] = bound_frame_llr(terms_frame_llr(terms[spk], f, a)[r.digit]).sum()
            scores[c] = (noise_normalised(llr, signature[:, None]), count)

        rows3, owner3 = split[3]
        rows5, owner5 = split[5]
        clean5 = _pooled(scores["clean"], rows5)
        floor = [np.quantile(clean5[owner5 != j, j], 0.99) for j in range(len(speakers))]
        cells = []
        for c in CONDS:
            s3 = _pooled(scores[c], rows3)
            target = owner3[:, None] == np.arange(len(speakers))[None, :]
            s5 = _pooled(scores[c], rows5)
            frr = np.mean([np.mean(s5[owner5 == j, j] < floor[j]) for j in range(len(speakers))])
            cells.append(f"{100 * metrics.eer(s3[target], s3[~target]):.2f} / {100 * frr:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    body = (
        "## Noise: babble copies (dev takes)\n\n"
        f"`benchmarks/babble_copies.py --trials {args.trials}`: {args.trials} trials per speaker and K, takes "
        "6-24, test babble from the speechocean762 speakers the babble model was not estimated from; each cell "
        "EER % at K = 3 / FRR % of K = 5 genuine answers below the user's clean 1%-FAR point; "
        f"run {time.perf_counter() - started:.0f} s.\n\n" + "\n".join(lines)
    )
    if not args.no_write:
        write_section("babble-copies", "benchmarks/babble_copies.py", body)


if __name__ == "__main__":
    main()
