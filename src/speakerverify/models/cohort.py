"""Impostor trials assembled from other speakers' stored takes, for deployment calibration.

Impostors recorded in the deployment's own conditions and saying the same digits
score far higher than a mismatched cohort (see issue notes in BENCHMARKS.md), so
each user's model is calibrated against the other users' takes, assembled into
trials of the prompted length. Every take is scored once against the model of its
digit; a trial's score is then a frame-weighted mean of its takes' sums, so many
trials cost almost nothing more than the takes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..features.postprocess import DEFAULT_POST, PostConfig, postprocess
from ..features.quality import segment_snr
from .frame_bounds import bound_frame_llr
from .gmm import DiagGMM
from .noise_signature import frame_signature, noise_normalised
from .noisy_copies import degraded_levels
from .scoring import ModelTerms, align, chosen_frame_llr, model_terms

_FRAMES_PER_PASS = 20000  # bounds the (frames, top_c, D) gather in memory


def take_llr_sums(
    ubm: DiagGMM,
    digit_models: np.ndarray | ModelTerms,
    takes: Sequence[tuple[int, np.ndarray]],
    top_c: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """For takes (digit, feats (T, D)): summed frame LLR against that digit's model, and T. Both (N,).

    ``digit_models``: the digit models' means (10, C, D), or their ``model_terms`` if the caller has them.
    """
    sums, counts, _ = take_llr_signature_sums(ubm, digit_models, takes, top_c)
    return sums, counts


def take_llr_signature_sums(
    ubm: DiagGMM,
    digit_models: np.ndarray | ModelTerms,
    takes: Sequence[tuple[int, np.ndarray]],
    top_c: int = 8,
    signature: ModelTerms | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``take_llr_sums`` and, on the same alignment, each take's summed ``noise_signature.frame_signature``
    under the noise model ``signature`` (zeros (N,) without one); with a noise model the LLR sums are
    ``noise_normalised``, as the service's answers are."""
    terms = digit_models if isinstance(digit_models, ModelTerms) else model_terms(ubm, digit_models)
    counts = np.array([len(f) for _, f in takes], dtype=np.float64)
    sums, sig = np.zeros(len(takes)), np.zeros(len(takes))
    i = 0
    while i < len(takes):  # takes in batches of about _FRAMES_PER_PASS frames, aligned in one pass each
        j, frames = i, 0
        while j < len(takes) and (j == i or frames + counts[j] <= _FRAMES_PER_PASS):
            frames += counts[j]
            j += 1
        batch = [k for k in range(i, j) if counts[k] > 0]
        if batch:
            feats = np.concatenate([np.asarray(takes[k][1], dtype=np.float64) for k in batch])
            digit_of_frame = np.repeat([takes[k][0] for k in batch], counts[batch].astype(int))
            aligned = align(ubm, feats, top_c)
            llr = bound_frame_llr(chosen_frame_llr(terms, feats, aligned, digit_of_frame))
            starts = np.concatenate([[0], np.cumsum(counts[batch])[:-1]]).astype(int)
            sums[batch] = np.add.reduceat(llr, starts)
            if signature is not None:
                sig[batch] = np.add.reduceat(frame_signature(signature, feats, aligned), starts)
        i = j
    return (sums if signature is None else noise_normalised(sums, sig)), counts, sig


def assemble_trials(
    digits: np.ndarray, owners: np.ndarray, k: int, per_owner: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index sets of trials: ``per_owner`` trials per owner, each k takes of k distinct digits of that owner.

    Owners with takes of fewer than k distinct digits contribute nothing.
    """
    trials: list[np.ndarray] = []
    for owner in np.unique(owners):
        mine = np.flatnonzero(owners == owner)
        by_digit = {int(d): mine[digits[mine] == d] for d in np.unique(digits[mine])}
        if len(by_digit) < k:
            continue
        available = np.array(sorted(by_digit))
        for _ in range(per_owner):
            chosen = rng.choice(available, size=k, replace=False)
            trials.append(np.array([rng.choice(by_digit[int(d)]) for d in chosen]))
    return trials


def trial_scores(sums: np.ndarray, counts: np.ndarray, trials: Sequence[np.ndarray]) -> np.ndarray:
    """Mean frame LLR of each trial. (n_trials,)"""
    total = np.array([sums[t].sum() for t in trials])
    frames = np.array([counts[t].sum() for t in trials])
    return np.where(frames > 0, total / np.maximum(frames, 1), -np.inf)


def trial_snr(take_snr: np.ndarray, trials: Sequence[np.ndarray]) -> np.ndarray:
    """Each trial's measured SNR (dB) as ``features.quality.estimate_quality`` gives an answer's: the median
    of its takes' SNRs (N,). (n_trials,)"""
    return np.array([float(np.median(take_snr[t])) for t in trials])


def noisy_trial_scores(
    ubm: DiagGMM,
    terms: ModelTerms,
    raw_takes: Sequence[tuple[int, np.ndarray, np.ndarray]],
    trials: Sequence[np.ndarray],
    levels_db: Sequence[float],
    post: PostConfig = DEFAULT_POST,
    top_c: int = 8,
    signature: ModelTerms | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same trials with every take (digit, raw mfcc (T, 13), energy (T,)) degraded to each level by the
    noisy-copy construction: trial SNRs as measured (L, n), trial scores (L, n) and trial noise signatures
    (L, n; the frame-weighted mean of ``frame_signature`` under ``signature``, zeros without one)."""
    snr = np.zeros((len(levels_db), len(trials)))
    scores = np.zeros((len(levels_db), len(trials)))
    sigs = np.zeros((len(levels_db), len(trials)))
    copies = [degraded_levels(m, e, levels_db) for _, m, e in raw_takes]
    for level in range(len(levels_db)):
        segments = [(d, postprocess(*copies[i][level], post)) for i, (d, _, _) in enumerate(raw_takes)]
        sums, counts, sig = take_llr_signature_sums(ubm, terms, segments, top_c, signature)
        take_snr = np.array([segment_snr(copies[i][level][1], copies[i][level][0]) for i in range(len(raw_takes))])
        snr[level], scores[level] = trial_snr(take_snr, trials), trial_scores(sums, counts, trials)
        sigs[level] = trial_scores(sig, counts, trials)
    return snr, scores, sigs
