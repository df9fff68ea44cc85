"""Speaker models adapted to the answer's own noise, and how far the served bar is from real impostors' own.

    python benchmarks/matched_copies.py [--takes dev] [--weights 0.5,1,2] [--genuine 60] [--impostor 120]
        [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k] [--no-write]

Issue 14 lists "noise-adapted speaker models from the noise estimated in the answer's own quiet frames". Here
every enrolment take of the claimed user gets one more copy, in the answer's noise: the quiet frames' mean band
power per unit frame energy (``features.quality.quiet_frames``, the bands rebuilt from the 13 MFCCs) at the
answer's measured SNR, drawn as the product's stationary copies are (``models.noisy_copies``: Gamma band noise,
white's degrees of freedom), added to the product's model (takes and their copies, ``DEFAULT_RECIPE``) with
``--weights`` times a take's weight. The deployment is ``evaluation.deployment``'s (6 FSDD speakers enrolled on
takes 0-5); answers are 5 development takes (never the test takes: this is a choice), genuine and impostor,
with real noise mixed into the audio (``evaluation.noise.mix``).

Each answer's score is its frame-weighted mean LLR over the prompted digits (as ``score_answer``; without the
noise normalisation, which is the same for every model of one answer). Per condition and model: the EER and
the FRR at the pooled 1%-FAR point of the *real* impostor answers of that condition (an oracle bar: the
product cannot know it), and for the product the FRR at its served bars (``decide``, content check and
``too_noisy`` included): the difference is what the served bar costs beyond what real impostors need.
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
from speakerverify.evaluation.metrics import eer, frr_at_far
from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.features.cepstra import log_mel
from speakerverify.features.quality import estimate_quality, quiet_frames
from speakerverify.models.digits import segment_digit_scores
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, noise_bands, take_stats, with_stationary_noise
from speakerverify.models.scoring import ModelTerms, model_terms
from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means, utterance_stats
from speakerverify.models.ubm import load_default_ubm

CONDITIONS = (("clean", None), ("white", 20.0), ("babble", 20.0), ("white", 10.0), ("pink", 10.0), ("babble", 10.0))
Feats = tuple[np.ndarray, np.ndarray]


def answer_noise(takes: list[Feats]) -> np.ndarray:
    """The answer's noise as band power per unit frame energy, (N,): its takes' quiet frames pooled."""
    power, energy = [], []
    for mfcc, e in takes:
        q = quiet_frames(np.asarray(e, dtype=np.float64))
        power.append(np.maximum(np.expm1(log_mel(np.asarray(mfcc, dtype=np.float64)[q])), 0.0))
        energy.append(np.asarray(e, dtype=np.float64)[q])
    return np.concatenate(power).mean(axis=0) / max(float(np.concatenate(energy).mean()), 1e-12)


def matched_copy(
    mfcc: np.ndarray, energy: np.ndarray, bands: np.ndarray, snr_db: float, rng: np.random.Generator
) -> Feats:
    """One take (T, 13), (T,) with noise of band shape ``bands`` (N,) at ``snr_db`` below its mean energy, drawn
    as the product's stationary copies are, with white noise's degrees of freedom."""
    _, dof, total_dof = noise_bands("white")
    noise_energy = float(np.mean(energy)) / 10 ** (snr_db / 10)
    return with_stationary_noise(mfcc, energy, log_mel(mfcc), (bands, dof, total_dof), noise_energy, rng)


def matched_terms(
    gmm: DiagGMM, model: SpeakerModel, raw: list, bands: np.ndarray, snr_db: float, weight: float, seed: int
) -> ModelTerms:
    """The product's ``model`` plus ``weight`` times each stored take's copy in the answer's noise."""
    rng = np.random.default_rng(seed)
    n, f = model.n.copy(), model.f.copy()
    for digit, mfcc, energy in raw:
        m, e = matched_copy(np.asarray(mfcc, np.float64), np.asarray(energy, np.float64), bands, snr_db, rng)
        stats = utterance_stats(gmm, postprocess(m, e, DEFAULT_POST))
        n[digit] += weight * stats.n
        f[digit] += weight * stats.f
    adapted = digit_means(gmm, SpeakerModel(n, f, model.takes), DEFAULT_ADAPTATION)
    return model_terms(gmm, adapted, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--takes", choices=["dev"], default="dev", help="a choice: development takes only")
    parser.add_argument("--weights", default="0.5,1,2", help="comma-separated weights of the matched copy")
    parser.add_argument("--genuine", type=int, default=60, help="genuine answers per user and condition")
    parser.add_argument("--impostor", type=int, default=120, help="impostor answers per user and condition")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    t0 = time.perf_counter()
    policy = VoicePolicy()
    gmm = load_default_ubm().gmm
    recs, speakers, users, rows = deployment.fsdd_deployment(gmm, args.corpus, policy)
    calib = deployment.calibrations(rows, policy)
    models = {}
    for u in users:
        model = SpeakerModel.empty(gmm.n_components, gmm.dim)
        for digit, mfcc, energy in u.raw:
            model = model.add(digit, take_stats(gmm, mfcc, energy, DEFAULT_POST, DEFAULT_RECIPE))
        models[u.name] = (model, u.raw)
    takes = deployment.ANSWER_TAKES[args.takes]
    answer_recs = [r for r in recs if r.take in takes]
    trials = deployment.answer_trials(speakers, takes, args.genuine, args.impostor, 3)
    genuine = np.array([g for _, g, _ in trials])
    lines = [
        "| condition | product: EER % | product: FRR % at real impostors' 1%-FAR point | product: FRR % served "
        "| product: FAR % served | "
        + " | ".join(f"matched x{w:g}: EER % | matched x{w:g}: FRR % at the same point" for w in weights)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|---:|" * len(weights),
    ]
    for kind, snr in CONDITIONS:
        feats: dict[deployment.TakeKey, Feats] = {}
        for r in answer_recs:
            x = read_audio(r.path)
            if snr is not None:
                x = mix(x, kind, snr, r.path.name, args.babble_corpus)
            mfcc, energy = extract(x)
            feats[(r.speaker, r.digit, r.take)] = (mfcc.astype(np.float32), energy.astype(np.float32))  # b64 form
        post = {k: postprocess(*v, DEFAULT_POST) for k, v in feats.items()}
        scored = deployment.score_takes(gmm, users, feats)
        product, served = [], []
        matched: dict[float, list[float]] = {w: [] for w in weights}
        for i, (user, _, keys) in enumerate(trials):
            frames = sum(len(post[k]) for k in keys)
            product.append(sum(scored.rows[(user, *k)][k[1]] * len(post[k]) for k in keys) / frames)
            served.append(deployment.decided(scored, calib[user], user, keys, policy)[2].accept)
            snr_db = estimate_quality([feats[k][1] for k in keys], mfcc=[feats[k][0] for k in keys]).snr_db
            bands = answer_noise([feats[k] for k in keys])
            for w in weights:
                terms = matched_terms(gmm, *models[user], bands, snr_db, w, i)
                table = segment_digit_scores(gmm, terms, [post[k] for k in keys], DEFAULT_ADAPTATION.top_c)
                matched[w].append(sum(table[j, k[1]] * len(post[k]) for j, k in enumerate(keys)) / frames)
        p, acc = np.array(product), np.array(served)
        cells = [
            f"{100 * eer(p[genuine], p[~genuine]):.2f}",
            f"{100 * frr_at_far(p[genuine], p[~genuine]):.1f}",
            f"{100 * (1 - acc[genuine].mean()):.1f}",
            f"{100 * acc[~genuine].mean():.2f}",
        ]
        for w in weights:
            s = np.array(matched[w])
            cells += [f"{100 * eer(s[genuine], s[~genuine]):.2f}", f"{100 * frr_at_far(s[genuine], s[~genuine]):.1f}"]
        name = "clean" if snr is None else f"{kind} {snr:g} dB"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
    head = (
        f"`benchmarks/matched_copies.py --takes {args.takes} --weights {args.weights} --genuine {args.genuine} "
        f"--impostor {args.impostor}`: {len(speakers) * args.genuine} genuine / {len(speakers) * args.impostor} "
        f"impostor answers of 5 development takes per condition; scores without the noise normalisation; "
        f"run {time.perf_counter() - t0:.0f} s."
    )
    print("\n".join(lines))
    if not args.no_write:
        write_section(
            "matched-copies",
            "benchmarks/matched_copies.py",
            "## Noise: speaker models adapted to the answer's own noise (dev takes)\n\n"
            + head
            + "\n\n"
            + "\n".join(lines),
        )


if __name__ == "__main__":
    main()
