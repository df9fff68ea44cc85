"""Flattened cepstra: impostors pull their raw c1-c12 towards each take's mean, and may claim noise too.

    python benchmarks/flattened_cepstra.py [--takes dev|test] [--impostor 400] [--corpus ../shared/data/fsdd]
        [--without-copies] [--factors 1,0.8,0.7,0.6] [--claims none,10,5.5] [--no-construction]
        [--edits flatten,scale,smooth5] [--jitter 0.2] [--claim-form energy|bands|pauses]
        [--level-bias B20,B15,B10,B5]

Found by ``benchmarks/babble_claim.py`` (SECURITY.md "Flattened cepstra"): the edit passes the plausibility
gate for most takes and raises the product's impostor acceptance. This script asks why: the same deployment
as ``noise_operating_point.py`` (6 FSDD speakers enrolled on takes 0-5, each calibrated on the others, the
product's decision), built once with the product's noisy copies (``noisy_copies.DEFAULT_RECIPE``) and once
without (``NO_COPIES``), against impostor answers (5 takes of another speaker) whose raw c1-c12 are scaled
towards the take's mean (c0 as recorded), every take checked by ``models.speech.check`` (an answer with a
refused take is refused). Each factor is also sent with every frame's energy raised by a constant floor so
that the answer measures at a claimed SNR (``snr_claim.py``'s claim: it makes flat cepstra look physically
plausible to the gate), and impostor takes degraded by the server's own noisy-copy construction
(``noisy_copies.degraded_levels``, which a client can run on its own frames). Also the answers' median noise
signature (``models.noise_signature``) and measured SNR. ``--edits``: besides
``flatten`` (towards the take's mean), ``scale`` (c1-c12 towards zero, the mean with them) and ``smoothN`` (a
moving average over N frames, then flattened by the factor); ``evaluation.crafted`` has each. ``--jitter``:
Gaussian noise of that many standard deviations added to every edited take's c1-c12 afterwards (restores
the roughness smoothing takes away; seeded per take).
``--claim-form``: where the claimed noise goes: the energies alone (the default), or the mel bands too, of
every frame or of the pauses only (``evaluation.crafted.claimed_noise_in_bands``; the SNR is measured on
the bands as well since 2026-12-03, ``features.quality``).
``--without-copies``: the same against a deployment
built without noisy copies (``NO_COPIES``), the attack's cause. ``--level-bias``: a what-if, the noisy levels'
bars lowered below the degraded cohort's point (as ``DEGRADED_COHORT_BIAS`` once did). Prints its table (no
section is written: SECURITY.md quotes it with the command).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from noise_operating_point import level_biases

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.crafted import (
    claimed_noise,
    claimed_noise_in_bands,
    flattened,
    jittered,
    scaled,
    smoothed,
)
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio
from speakerverify.models import speech
from speakerverify.models.calibration import DEGRADED_COHORT_BIAS
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES, degraded_levels
from speakerverify.models.ubm import load_default_ubm

FACTORS = (1.0, 0.8, 0.7, 0.6)
CLAIMS = (None, 10.0, 5.5)  # dB; None: the energies as recorded
CONSTRUCTION_DB = (20.0, 15.0, 10.0, 5.0)


CLAIM_FORMS = ("energy", "bands", "pauses")


def edited(
    mfcc: np.ndarray, energy: np.ndarray, kind: str, factor: float, claim: float | None, form: str = "energy"
) -> tuple[np.ndarray, np.ndarray]:
    """One take as the attacker sends it: edited by ``kind`` ("flatten", "scale", "smoothN") and ``factor``
    with noise claimed at ``claim`` dB (None: as recorded) in the ``form`` of ``CLAIM_FORMS`` (the energies
    alone, ``crafted.claimed_noise``; or in the bands too, of every frame or of the pauses only,
    ``crafted.claimed_noise_in_bands``), or, for ``kind`` "construction", degraded to ``claim`` dB."""
    if kind == "construction":
        assert claim is not None
        m, e = degraded_levels(mfcc, energy, [claim])[0]
        return np.float32(m), np.float32(e)
    if kind == "flatten":
        m = flattened(mfcc, factor)
    elif kind == "scale":
        m = scaled(mfcc, factor)
    else:
        m = flattened(smoothed(mfcc, int(kind.removeprefix("smooth"))), factor)
    if claim is None:
        return m, energy
    if form == "energy":
        return m, claimed_noise(energy, claim)
    return claimed_noise_in_bands(m, energy, claim, pauses_only=form == "pauses")


def _label(kind: str, factor: float) -> str:
    if kind == "construction":
        return kind
    prefix = {"flatten": "", "scale": "scaled "}.get(kind, f"smoothed {kind.removeprefix('smooth')} frames, ")
    return f"{prefix}x{factor:g}"


def _edits(text: str) -> tuple[str, ...]:
    kinds = tuple(v.strip() for v in text.split(","))
    for k in kinds:
        if k not in ("flatten", "scale") and not (k.startswith("smooth") and k[6:].isdigit() and int(k[6:]) % 2):
            raise argparse.ArgumentTypeError(f"unknown edit {k!r}: flatten, scale or smoothN (N odd)")
    return kinds


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _claims(text: str) -> tuple[float | None, ...]:
    return tuple(None if v.strip() == "none" else float(v) for v in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--takes", choices=list(deployment.ANSWER_TAKES), default="dev")
    parser.add_argument("--impostor", type=int, default=400, help="impostor answers per user")
    parser.add_argument("--without-copies", action="store_true", help="also a deployment without noisy copies")
    parser.add_argument("--factors", type=_floats, default=FACTORS, help="comma-separated flattening factors")
    parser.add_argument("--claims", type=_claims, default=CLAIMS, help="comma-separated claimed SNRs (dB; 'none')")
    parser.add_argument("--no-construction", action="store_true", help="skip the copy-construction rows")
    parser.add_argument("--jitter", type=float, default=0.0, help="noise added after the edit (x coefficient std)")
    parser.add_argument(
        "--claim-form", choices=CLAIM_FORMS, default="energy", help="where the claimed noise goes (see edited)"
    )
    parser.add_argument(
        "--level-bias",
        type=level_biases,
        default=DEGRADED_COHORT_BIAS,
        help="comma-separated lowering of the noisy levels' bars (a what-if; default DEGRADED_COHORT_BIAS)",
    )
    parser.add_argument("--edits", type=_edits, default=("flatten",), help="comma-separated: flatten, scale, smoothN")
    args = parser.parse_args()
    policy = VoicePolicy()
    ubm = load_default_ubm()
    lines = [
        "| models | edit | claimed SNR | takes refused by the gate | accepted (product) | N tried "
        "| median noise signature | median measured SNR dB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for recipe in (DEFAULT_RECIPE, NO_COPIES) if args.without_copies else (DEFAULT_RECIPE,):
        t0 = time.perf_counter()
        recs, speakers, users, rows = deployment.fsdd_deployment(ubm.gmm, args.corpus, policy, recipe)
        calib = deployment.calibrations(rows, policy, args.level_bias)
        takes = deployment.ANSWER_TAKES[args.takes]
        trials = deployment.answer_trials(speakers, takes, 0, args.impostor, 0)
        clean = {}
        for r in recs:
            if r.take in takes:
                m, e = extract(read_audio(r.path))
                clean[(r.speaker, r.digit, r.take)] = (np.float32(m), np.float32(e))  # the b64 form
        edits: list[tuple[str, float, float | None]] = [
            (kind, a, c) for kind in args.edits for a in args.factors for c in args.claims
        ]
        if not args.no_construction:
            edits += [("construction", 1.0, db) for db in CONSTRUCTION_DB]
        for kind, factor, claim in edits:
            sent = {k: edited(m, e, kind, factor, claim, args.claim_form) for k, (m, e) in clean.items()}
            if args.jitter > 0 and kind != "construction":
                sent = {
                    k: (jittered(m, args.jitter, np.random.default_rng([i, 7])), e)
                    for i, (k, (m, e)) in enumerate(sent.items())
                }
            refused = {k for k, (m, e) in sent.items() if not speech.check(m, e, DEFAULT_CONFIG, ubm).ok}
            scored = deployment.score_takes(ubm.gmm, users, sent)
            accepted, sigs, snrs = 0, [], []
            for user, _genuine, keys in trials:
                if any(k in refused for k in keys):
                    continue
                a, snr, decision = deployment.decided(scored, calib[user], user, keys, policy)
                accepted += decision.accept
                snrs.append(snr)
                if a.signature is not None:
                    sigs.append(a.signature)
            lines.append(
                f"| {recipe.copies_id} | {_label(kind, factor)}{f', jitter {args.jitter:g}' if args.jitter else ''} "
                f"| {'as recorded' if claim is None else format(claim, 'g') + ' dB, in the ' + args.claim_form} "
                f"| {len(refused)} of {len(sent)} | {accepted} | {len(trials)} "
                f"| {np.median(sigs):.3f} | {np.median(snrs):.1f} |"
            )
            print(lines[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
