"""Issue 14: can the bar go below the clean point for answers whose speech frames show speech-like noise?

    python benchmarks/babble_claim.py [--takes dev|test] [--genuine 100] [--impostor 400]
        [--corpus ../shared/data/fsdd] [--babble-corpus ../shared/data/speechocean762-8k]
        [--only-conditions] [--no-write]

A candidate rule, measured here and not in the product. A *babble model* (the UBM MAP-adapted to
speechocean762 utterances degraded by a feature-domain babble construction, ``babble_degrade``: other
utterances' mel band powers summed frame by frame through the inverse-DCT route of
``models/noisy_copies.py``, no audio mixed) gives each answer a babble signature (mean frame LLR of its
speech frames, babble model against the UBM). The answer's *evidence* is that minus the product's noise
signature (``models/noise_signature.py``): stationary noise raises both, speech-like noise the babble one
only. Its fraction is placed between the deployment cohort's clean trials (0) and its trials degraded by
the same babble construction at 10 dB (1), with the cohort's other speakers' takes as the babble (what a
server could do with no audio). Candidate x: the product's bar moved by that fraction towards the clean
point less x (``candidate_bar``); the claimant's SNR plays no part in the lowering, since it is free to fake.

Security is the acceptance criterion: impostor answers (another speaker's takes, every user claimed) try to
earn the lowered bar with (1) fake quiet-frame energy (clean frames, any claimed SNR), (2) real babble,
white or pink noise mixed into the audio at many SNRs, (3) babble MFCCs with clean energies, babble in only
a fraction of each take's frames, (4) edits that mimic the evidence: c1-c12 of the raw frames shrunk
towards the take's mean (the loss of cepstral dynamics babble causes), every post-processed frame moved
along the babble model's mean shift of its top UBM component, (5) post-processed frames sampled from the
babble model or the UBM. Attacks sent as raw frames pass the service's plausibility gate
(``models.speech.check``; a refused take refuses the answer); edits of the post-processed frames bypass it
(no raw frames are known to produce them: an upper bound on what a client could do). "N tried, N accepted"
per attack, for the product and each candidate.

The deployment is ``noise_operating_point.py``'s (6 FSDD speakers enrolled on takes 0-5 with the product's
copies, each calibrated on the others); answers are 5 takes of 5 distinct digits from the development
takes 6-24 (``--takes test``: 25-49, for the final report only).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import noise_operating_point as nop
from report import write_section

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.crafted import claimed_noise
from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_CONFIG, DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.features.quality import estimate_quality
from speakerverify.models import speech
from speakerverify.models.calibration import SNR_LEVELS
from speakerverify.models.cohort import assemble_trials, take_llr_signature_sums, trial_scores
from speakerverify.models.digits import content_margin, segment_digit_scores
from speakerverify.models.noise_signature import frame_signature, noise_model_terms
from speakerverify.models.noisy_copies import log_mel, mfcc_of, noise_bands
from speakerverify.models.scoring import ModelTerms, align, model_terms
from speakerverify.models.speaker import DEFAULT_ADAPTATION, Stats, map_means, utterance_stats
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.decision import AnswerScore, Calibration, SegmentScore

TALKERS = 6  # as evaluation.noise.BABBLE_TALKERS: speech-like, no one voice dominating

TOP_C = DEFAULT_ADAPTATION.top_c


# ---------------------------------------------------------------------------------------------- babble
def source_of(mfcc: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A babble source from a take's raw frames: its speech frames' mel band powers E (T', N) (Meyda's E of
    ln(1 + E), through the minimum-norm inverse DCT) and energies (T',); quiet frames dropped so that the
    summed talkers stay dense, as continuous speech is."""
    mel = np.maximum(np.exp(log_mel(mfcc)) - 1.0, 0.0)
    keep = energy > 0.1 * np.mean(energy)
    return mel[keep], np.asarray(energy, np.float64)[keep]


def babble_degrade(
    mfcc: np.ndarray,
    energy: np.ndarray,
    sources: list[tuple[np.ndarray, np.ndarray]],
    snr_db: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw frames mfcc (T, 13), energy (T,) with babble added in the mel power domain: ``TALKERS`` sources,
    each from a random offset and looped, summed frame by frame, scaled so that the noise's mean frame
    energy is mean(energy) / 10^(SNR/10) (``evaluation.noise.mix``'s SNR); the bands scaled by the same
    factor relative to the white-noise band total of that energy (``noise_bands``). (mfcc', energy')"""
    mfcc = np.asarray(mfcc, np.float64)
    energy = np.asarray(energy, np.float64)
    t = len(energy)
    band = np.zeros((t, DEFAULT_CONFIG.mel_bands))
    frame = np.zeros(t)
    for i in rng.choice(len(sources), size=min(TALKERS, len(sources)), replace=False):
        mel, e = sources[int(i)]
        idx = (int(rng.integers(len(e))) + np.arange(t)) % len(e)
        scale = 1.0 / max(float(np.mean(e)), 1e-12)  # each talker at unit mean energy
        band += mel[idx] * scale
        frame += e[idx] * scale
    white_total = float(noise_bands("white")[0].sum())
    target = float(np.mean(energy)) / 10 ** (snr_db / 10)
    band_total = max(float(band.sum(axis=1).mean()), 1e-12)
    band *= target * white_total / band_total
    frame *= target / max(float(frame.mean()), 1e-12)
    noisy_mel = np.log(np.exp(log_mel(mfcc)) + band)
    return mfcc_of(noisy_mel, mfcc.shape[1]), energy + frame


def babble_model(gmm, corpus: str, n_utts: int, seed: int = 0) -> ModelTerms:
    """The UBM MAP-adapted to ``n_utts`` speechocean762 utterances, each degraded by ``babble_degrade`` (the
    other utterances as sources) at every level of ``SNR_LEVELS``: the speech-in-babble model (terms)."""
    wavs = sorted(Path(corpus, "wav").glob("*.wav"))
    rng = np.random.default_rng(seed)
    chosen = [wavs[int(i)] for i in rng.choice(len(wavs), size=min(n_utts, len(wavs)), replace=False)]
    raw = [as_stored(*extract(read_audio(p))) for p in chosen]
    raw = [(np.float64(m), np.float64(e)) for m, e in raw]
    srcs = [source_of(m, e) for m, e in raw]
    total = Stats(np.zeros(gmm.n_components), np.zeros((gmm.n_components, gmm.dim)))
    for i, (m, e) in enumerate(raw):
        others = [s for j, s in enumerate(srcs) if j != i and len(s[1])]
        for snr in SNR_LEVELS:
            total = total + utterance_stats(gmm, postprocess(*babble_degrade(m, e, others, snr, rng), DEFAULT_POST))
    means = map_means(gmm.means, total, DEFAULT_ADAPTATION.relevance)
    return model_terms(gmm, means[None])


# ------------------------------------------------------------------------------------------ the cohort
POOL_LEVELS = (20.0, 10.0)  # the babble construction's levels the cohort is degraded to here


@dataclass
class Refs:
    """The deployment's evidence references from its own cohort trials: the median babble evidence
    (``evidence``) of the clean trials (fraction 0) and of the trials degraded by ``babble_degrade`` at
    10 dB (fraction 1); and, for the report, each version's median evidence and normalised score."""

    clean: float
    babble: float
    medians: dict[str, tuple[float, float, float]]  # version -> (evidence, normalised score, its 99th pct)

    def fraction(self, e: float) -> float:
        return float(np.clip((e - self.clean) / (self.babble - self.clean), 0.0, 1.0))


def evidence(babble_sig: float, noise_sig: float) -> float:
    """An answer's babble evidence: how much better its speech frames fit the babble model than the
    product's noise model (the copy construction's stationary noise), both against the UBM. Stationary
    noise raises both signatures (about equally); speech-like noise raises the babble model's only."""
    return babble_sig - noise_sig


def cohort_refs(gmm, users, calib: dict[str, Calibration], bterms: ModelTerms, policy: VoicePolicy) -> Refs:
    """Every user's impostor trials from the other users' stored takes, clean and babble-degraded (sources:
    the cohort's other speakers' takes, server-side, no audio) at ``POOL_LEVELS``: the median evidence of
    each version over all users' trials, and the normalised scores."""
    by_id = sorted(users, key=lambda u: u.user_id)
    nm = noise_model_terms(gmm)
    ev: dict[str, list[np.ndarray]] = {}
    sc: dict[str, list[np.ndarray]] = {}
    for i, u in enumerate(by_id):
        cohort = (by_id[i + 1 :] + by_id[:i])[: policy.max_cohort_users]
        raw, owners = [], []
        for j, other in enumerate(cohort):
            raw += other.raw
            owners += [j] * len(other.raw)
        digits = np.array([d for d, _, _ in raw])
        trials = assemble_trials(
            digits, np.array(owners), deployment.K, policy.cohort_trials_per_user, np.random.default_rng(i)
        )
        srcs = [source_of(np.float64(m), np.float64(e)) for _, m, e in raw]
        rng = np.random.default_rng([i, 7])
        versions = {"clean": raw}
        for snr in POOL_LEVELS:
            versions[f"babble construction {snr:g} dB"] = [
                (d, *babble_degrade(m, e, [s for s, o in zip(srcs, owners, strict=True) if o != owners[t]], snr, rng))
                for t, (d, m, e) in enumerate(raw)
            ]
        for name, version in versions.items():
            segments = [(d, postprocess(m, e, DEFAULT_POST)) for d, m, e in version]
            sums, counts, bsig = take_llr_signature_sums(gmm, u.terms, segments, TOP_C, bterms)
            _, _, nsig = take_llr_signature_sums(gmm, u.terms, segments, TOP_C, nm)
            ev.setdefault(name, []).append(trial_scores(bsig, counts, trials) - trial_scores(nsig, counts, trials))
            sc.setdefault(name, []).append(trial_scores(sums, counts, trials) - calib[u.name].location)
    medians = {}
    for name in ev:
        e, s = np.concatenate(ev[name]), np.concatenate(sc[name])
        ok = np.isfinite(e) & np.isfinite(s)
        medians[name] = (float(np.median(e[ok])), float(np.median(s[ok])), float(np.quantile(s[ok], 0.99)))
    return Refs(medians["clean"][0], medians["babble construction 10 dB"][0], medians)


# ----------------------------------------------------------------------------------------- the answers
@dataclass
class Takes:
    """Per take: digit scores against every user's model, scored frames, energies, two signature sums."""

    rows: dict
    frames: dict
    energy: dict
    sig: dict  # the product's noise signature, summed over the take's frames
    bsig: dict  # the babble signature, summed


def score_post(gmm, users, post: dict, energy: dict, bterms: ModelTerms) -> Takes:
    """Post-processed frames per take key -> every user's digit scores and both signatures."""
    keys = list(post)
    feats = [post[k] for k in keys]
    rows = {}
    for u in users:
        table = segment_digit_scores(gmm, u.terms, feats, TOP_C)
        rows.update({(u.name, *k): table[i] for i, k in enumerate(keys)})
    nm = noise_model_terms(gmm)
    sig, bsig = {}, {}
    for k, p in zip(keys, feats, strict=True):
        if len(p):
            a = align(gmm, p, TOP_C)
            sig[k] = float(frame_signature(nm, p, a).sum()) if nm is not None else 0.0
            bsig[k] = float(frame_signature(bterms, p, a).sum())
        else:
            sig[k] = bsig[k] = 0.0
    return Takes(rows, {k: len(p) for k, p in zip(keys, feats, strict=True)}, energy, sig, bsig)


def answer(t: Takes, user: str, keys, policy: VoicePolicy) -> tuple[AnswerScore, float | None]:
    segments, total, frames, sig, bsig = [], 0.0, 0, 0.0, 0.0
    for key in keys:
        n = t.frames[key]
        if n < policy.min_speech_frames:
            segments.append(SegmentScore(key[1], n, None, False, None))
            continue
        row = t.rows[(user, *key)]
        margin = content_margin(row, key[1])
        segments.append(SegmentScore(key[1], n, float(row[key[1]]), margin >= -policy.content_margin, margin))
        total += float(row[key[1]]) * n
        frames += n
        sig += t.sig[key]
        bsig += t.bsig[key]
    if not frames:
        return AnswerScore(segments, None, 0, None), None
    return AnswerScore(segments, total / frames, frames, sig / frames), bsig / frames


def candidate_bar(calib: Calibration, point: tuple[float, float], fraction: float, lowering: float) -> float:
    """The raw score the candidate asks: the product's bar moved by the babble ``fraction`` towards the clean
    point less ``lowering``. Continuous in the evidence (an answer with a little of it moves a little),
    and never lower than the clean answer with the same evidence is asked: the product's bar is at least
    the clean point's (the claimed-noise floor) and the candidate's is increasing in it."""
    product = point[0] + point[1]
    target = calib.location + calib.threshold - lowering
    return product - fraction * max(0.0, product - target)


def decisions(
    t: Takes, trials, calib, refs: Refs, policy: VoicePolicy, lowerings, energies=None, refused=frozenset()
) -> dict:
    """Accepts per rule over ``trials``: {rule: [genuine accepted, genuine n, impostors accepted, n]}; an
    answer with a take in ``refused`` (the plausibility gate's ``not_speech``) is refused whatever its score."""
    out = {"product": [0, 0, 0, 0], **{f"candidate {x:g}": [0, 0, 0, 0] for x in lowerings}}
    for user, genuine, keys in trials:
        if any(k in refused for k in keys):
            for v in out.values():
                v[1 if genuine else 3] += 1
            continue
        a, b = answer(t, user, keys, policy)
        snr = estimate_quality([(energies or t.energy)[k] for k in keys]).snr_db
        c = calib[user]
        point = c.operating_point(snr, a.signature)
        ok = point is not None and a.digits_match and a.raw is not None
        col = 0 if genuine else 2
        accepts = {"product": ok and a.raw - point[0] >= point[1]}
        for x in lowerings:
            fraction = 0.0 if b is None or a.signature is None else refs.fraction(evidence(b, a.signature))
            accepts[f"candidate {x:g}"] = ok and a.raw >= candidate_bar(c, point, fraction, x)
        for rule, acc in accepts.items():
            out[rule][col] += bool(acc)
            out[rule][col + 1] += 1
    return out


# -------------------------------------------------------------------------------------------- attacks
def shrink(p: np.ndarray, alpha: float) -> np.ndarray:
    """Post-processed frames (T, D) with every dimension's deviation from its mean scaled by ``alpha``."""
    return p.mean(axis=0) + alpha * (p - p.mean(axis=0))


def shrink_raw(mfcc: np.ndarray, alpha: float) -> np.ndarray:
    """Raw MFCC frames (T, 13) with c1-c12's deviation from the take's mean scaled by ``alpha`` (c0 kept:
    the frame energies and loudness stay as sent). float32, the b64 form."""
    m = np.asarray(mfcc, np.float64).copy()
    m[:, 1:] = shrink(m[:, 1:], alpha)
    return np.float32(m)


def toward(gmm, p: np.ndarray, shift: np.ndarray, beta: float) -> np.ndarray:
    """Frames (T, D) moved by ``beta`` times the babble model's mean shift (C, D) of each frame's top UBM
    component: the edit that raises the babble signature most directly."""
    if not len(p):
        return p
    top = align(gmm, p, 1).idx[:, 0]
    return p + beta * shift[top]


def sampled(gmm, means: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n frames drawn from the GMM with ``gmm``'s weights and variances and ``means`` (C, D)."""
    comp = rng.choice(gmm.n_components, size=n, p=gmm.weights / gmm.weights.sum())
    return means[comp] + rng.standard_normal((n, gmm.dim)) * np.sqrt(gmm.variances[comp])


LOWERINGS = (0.1, 0.2, 0.3)  # candidates for how far below the clean point full babble evidence may go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="../shared/data/fsdd")
    parser.add_argument("--babble-corpus", default="../shared/data/speechocean762-8k")
    parser.add_argument("--takes", choices=list(deployment.ANSWER_TAKES), default="dev")
    parser.add_argument("--genuine", type=int, default=100, help="genuine answers per user and condition")
    parser.add_argument("--impostor", type=int, default=400, help="impostor answers per user and condition")
    parser.add_argument("--model-utterances", type=int, default=150)
    parser.add_argument("--only-conditions", action="store_true", help="skip the attacks")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    policy = VoicePolicy()
    ubm = load_default_ubm()
    gmm = ubm.gmm
    recs, speakers, users, rows = deployment.fsdd_deployment(gmm, args.corpus, policy)
    calib = deployment.calibrations(rows, policy)
    bterms = babble_model(gmm, args.babble_corpus, args.model_utterances)
    bmeans = bterms.linear[0] / gmm.terms.precision  # back to means (C, D)
    nm = noise_model_terms(gmm)
    assert nm is not None, "the shipped noise model does not serve this UBM"
    nmeans = nm.linear[0] / gmm.terms.precision
    refs = cohort_refs(gmm, users, calib, bterms, policy)
    print(f"deployment, babble model and refs in {time.perf_counter() - t0:.0f} s: {refs}", flush=True)

    takes = deployment.ANSWER_TAKES[args.takes]
    audio = {(r.speaker, r.digit, r.take): (read_audio(r.path), r.path.name) for r in recs if r.take in takes}
    trials = deployment.answer_trials(speakers, takes, args.genuine, args.impostor, 0)
    impostors = [t for t in trials if not t[1]]
    cache: dict = {}

    def features(kind: str, snr: float | None) -> tuple[dict, dict, dict]:
        """(raw frames, post-processed frames, energies) of every answer take, ``kind`` noise mixed in."""
        if (kind, snr) not in cache:
            raw, post, energy = {}, {}, {}
            for k, (x, name) in audio.items():
                y = x if snr is None else mix(x, kind, snr, name, args.babble_corpus)
                m, e = extract(y)
                raw[k] = (np.float32(m), np.float32(e))  # the b64 form
                post[k] = postprocess(raw[k][0], raw[k][1], DEFAULT_POST)
                energy[k] = raw[k][1]
            cache[(kind, snr)] = (raw, post, energy)
        return cache[(kind, snr)]

    conditions = [("clean", None)] + [(k, s) for s in (20.0, 15.0, 10.0) for k in ("white", "pink", "babble")]
    table = []
    for kind, snr in conditions:
        _, post, energy = features(kind, snr)
        t = score_post(gmm, users, post, energy, bterms)
        d = decisions(t, trials, calib, refs, policy, LOWERINGS)
        ev = [
            evidence(b, a.signature)
            for a, b in (answer(t, u, keys, policy) for u, _g, keys in trials)
            if b is not None and a.signature is not None
        ]
        table.append((nop._name(kind, snr), float(np.median(ev)), d))
        print(table[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)

    attacks = []
    if not args.only_conditions:
        clean_raw, clean_post, clean_energy = features("clean", None)

        def run(name: str, post: dict, energy: dict | None = None, raw: dict | None = None) -> None:
            """Score the impostor answers; with ``raw`` frames (what the client would send), takes the
            plausibility gate refuses count as refusals; without (edits of the post-processed frames,
            which no raw frames are known to produce), the gate is bypassed: an upper bound."""
            refused = frozenset()
            if raw is not None:
                refused = frozenset(k for k, (m, e) in raw.items() if not speech.check(m, e, DEFAULT_CONFIG, ubm).ok)
            t = score_post(gmm, users, post, clean_energy if energy is None else energy, bterms)
            d = decisions(t, impostors, calib, refs, policy, LOWERINGS, refused=refused)
            gate = f"{len(refused)} of {len(raw)} takes refused" if raw is not None else "bypassed"
            attacks.append((name, gate, d))
            print(attacks[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)

        run("none: clean answers", clean_post, raw=clean_raw)
        for claim in (20.0, 10.0, 5.5):
            raised = {k: claimed_noise(e, claim) for k, (_m, e) in clean_raw.items()}
            run(
                f"clean frames, every energy raised to claim {claim:g} dB",
                clean_post,
                raised,
                {k: (m, raised[k]) for k, (m, _e) in clean_raw.items()},
            )
        for kind, snr in [("babble", s) for s in (25.0, 20.0, 15.0, 10.0, 7.0, 5.0, 3.0, 0.0)] + [
            ("white", 20.0),
            ("white", 10.0),
            ("white", 5.0),
            ("pink", 10.0),
            ("pink", 5.0),
        ]:
            raw, post, energy = features(kind, snr)
            run(f"real {kind} {snr:g} dB", post, energy, raw)
        for snr in (10.0, 0.0):
            noisy_raw = features("babble", snr)[0]
            sent = {k: (noisy_raw[k][0], clean_raw[k][1]) for k in clean_raw}
            post = {k: postprocess(m, e, DEFAULT_POST) for k, (m, e) in sent.items()}
            run(f"real babble {snr:g} dB MFCCs, the clean answer's energies sent (measures clean)", post, None, sent)
        for snr in (10.0, 0.0):
            noisy_raw = features("babble", snr)[0]
            for frac in (0.25, 0.5):
                spliced = {}
                for k, (m, e) in clean_raw.items():
                    n = min(len(e), len(noisy_raw[k][1]))
                    cut = round(frac * n)
                    spliced[k] = (
                        np.concatenate([noisy_raw[k][0][:cut], m[cut:n]]),
                        np.concatenate([noisy_raw[k][1][:cut], e[cut:n]]),
                    )
                post = {k: postprocess(m, e, DEFAULT_POST) for k, (m, e) in spliced.items()}
                energy = {k: e for k, (_m, e) in spliced.items()}
                run(
                    f"babble {snr:g} dB in the first {frac:.0%} of each take's frames, the rest clean",
                    post,
                    energy,
                    spliced,
                )
        for alpha in (0.8, 0.6, 0.4):
            # c1-c12 of the raw frames pulled towards the take's mean: post-processing is linear in them
            # (CMN, deltas), so this is the same edit of the scored frames, sent as raw frames
            shrunk = {k: (shrink_raw(m, alpha), e) for k, (m, e) in clean_raw.items()}
            post = {k: postprocess(m, e, DEFAULT_POST) for k, (m, e) in shrunk.items()}
            run(f"raw c1-c12 shrunk x{alpha:g} towards the take's mean", post, None, shrunk)
        for label, shift in (
            ("the babble model's mean shift", bmeans - gmm.means),
            ("the babble model's minus the noise model's mean shift", bmeans - nmeans),
        ):
            for beta in (0.5, 1.0, 2.0, 4.0):
                run(f"frames moved {beta:g}x {label}", {k: toward(gmm, p, shift, beta) for k, p in clean_post.items()})
        rng = np.random.default_rng(5)
        run(
            "frames sampled from the babble model",
            {k: sampled(gmm, bmeans, len(p), rng) for k, p in clean_post.items()},
        )
        run("frames sampled from the UBM", {k: sampled(gmm, gmm.means, len(p), rng) for k, p in clean_post.items()})
        for frac in (0.25, 0.5):
            part = {}
            for k, p in clean_post.items():
                cut = round(frac * len(p))
                part[k] = np.concatenate([sampled(gmm, bmeans, cut, rng), p[cut:]])
            run(f"the first {frac:.0%} of each take's frames sampled from the babble model", part)

    took = time.perf_counter() - t0
    lines = _report(args, table, attacks, refs, calib[speakers[0]], took)
    print("\n".join(lines))
    if not args.no_write:
        write_section(
            f"babble-claim-{args.takes}",
            "benchmarks/babble_claim.py",
            f"## Noise: babble evidence below the clean point ({args.takes} takes)\n\n" + "\n".join(lines),
        )


def _pct(a: int, n: int) -> str:
    return f"{100 * a / max(n, 1):.2f}"


def _report(args, table, attacks, refs: Refs, c0: Calibration, took: float) -> list[str]:
    rules = list(table[0][2])
    n_gen, n_imp = table[0][2]["product"][1], table[0][2]["product"][3]
    meds = "; ".join(f"{k} {e:.3f} / {s:.3f} / {q:.3f}" for k, (e, s, q) in refs.medians.items())
    lines = [
        f"`benchmarks/babble_claim.py --takes {args.takes} --genuine {args.genuine} --impostor {args.impostor}` "
        f"(run {took:.0f} s): {n_gen} genuine / {n_imp} impostor answers per condition; babble model from "
        f"{args.model_utterances} speechocean762 utterances; evidence = babble signature - noise signature; "
        f"references from the deployment's cohort trials (median evidence / median / 99th percentile "
        f"normalised score): {meds}. Candidate x: the product's bar moved by the evidence fraction towards the "
        f"clean point less x (a user's clean threshold: {c0.threshold:.3f}). FAR % / FRR %.",
        "",
        "| condition | evidence (median) | " + " | ".join(rules) + " |",
        "|---|---:|" + "---:|" * len(rules),
    ]
    for name, med, d in table:
        cells = [f"{_pct(v[2], v[3])} / {_pct(v[1] - v[0], v[1])}" for v in d.values()]
        lines.append(f"| {name} | {med:.3f} | " + " | ".join(cells) + " |")
    if attacks:
        lines += [
            "",
            "Attacks: impostor answers (another speaker's takes, every user claimed), accepted of N tried:",
            "",
            "| attack | plausibility gate | N tried | " + " | ".join(rules) + " |",
            "|---|---|---:|" + "---:|" * len(rules),
        ]
        for name, gate, d in attacks:
            cells = [f"{v[2]} ({_pct(v[2], v[3])}%)" for v in d.values()]
            lines.append(f"| {name} | {gate} | {d['product'][3]} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
