"""The noise signature: the shipped noise model, what it measures on real noisy audio, and its place in
score_answer (on the answer's own alignment)."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.cohort import take_llr_signature_sums, trial_scores
from speakerverify.models.frame_bounds import bound_frame_llr
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.noise_signature import (
    NOISE_NORMALISATION,
    answer_signature,
    frame_signature,
    noise_model_meta,
    noise_model_terms,
    signature_fraction,
    ubm_fingerprint,
)
from speakerverify.models.noisy_copies import STATIONARY_RECIPE
from speakerverify.models.scoring import align, chosen_frame_llr, model_terms
from speakerverify.models.ubm import load_default_ubm
from speakerverify.voice.decision import score_answer
from support.shared_data import require_fsdd, require_speechocean


def test_the_shipped_noise_model_serves_the_default_ubm_and_no_other() -> None:
    ubm = load_default_ubm()
    meta = noise_model_meta()
    assert meta["ubm_fingerprint"] == ubm_fingerprint(ubm.gmm) and meta["copies_id"] == STATIONARY_RECIPE.copies_id
    assert "speechocean762" in meta["corpus"] and noise_model_terms(ubm.gmm) is not None
    other = DiagGMM(ubm.gmm.weights, ubm.gmm.means + 1e-3, ubm.gmm.variances)  # an operator's own UBM
    assert noise_model_terms(other) is None


def _signature(samples: np.ndarray) -> float:
    gmm = load_default_ubm().gmm
    feats = postprocess(*extract(samples), DEFAULT_POST)
    terms = noise_model_terms(gmm)
    assert terms is not None
    sig = answer_signature(terms, feats, align(gmm, feats, 8))
    assert sig is not None
    return sig


@pytest.mark.parametrize("take", ["3_theo_30", "7_lucas_41"])
def test_copy_like_noise_shows_the_signature_and_other_speech_far_less(take: str) -> None:
    """What the calibration relies on, on real mixed audio: white noise at 10 dB raises the signature well
    above the clean take's; babble (other speakers) at the same SNR raises it much less."""
    path = require_fsdd() / "recordings" / f"{take}.wav"
    x = read_audio(path)
    clean, white = _signature(x), _signature(mix(x, "white", 10.0, path.name))
    babble = _signature(mix(x, "babble", 10.0, path.name, require_speechocean()))
    assert white - clean > 0.3
    assert babble - clean < 0.5 * (white - clean)


def test_score_answer_measures_the_signature_of_the_scored_frames_on_its_alignment() -> None:
    ubm = load_default_ubm().gmm
    rng = np.random.default_rng(0)
    terms = model_terms(ubm, np.stack([ubm.means + rng.normal(0, 0.5, ubm.means.shape) for _ in range(10)]))
    digits = [2, 6, 8]
    feats = [postprocess(*extract(read_audio(require_fsdd() / "recordings" / f"{d}_george_33.wav"))) for d in digits]
    feats[1] = feats[1][:5]  # too short to score: not in the signature either
    alone = score_answer(ubm, terms, digits, digits, feats, 20, 1.0, 8)
    shared = score_answer(ubm, terms, digits, digits, feats, 20, 1.0, 8, align(ubm, np.concatenate(feats), 8))
    scored = np.concatenate([feats[0], feats[2]])
    noise = noise_model_terms(ubm)
    assert noise is not None
    expected = answer_signature(noise, scored, align(ubm, scored, 8))
    assert alone.signature == pytest.approx(expected) and shared.signature == pytest.approx(expected)
    toy = DiagGMM(np.full(4, 0.25), rng.normal(size=(4, 3)), np.ones((4, 3)))  # no noise model for it
    toy_terms = model_terms(toy, rng.normal(size=(10, 4, 3)))
    assert score_answer(toy, toy_terms, [1], [1], [rng.normal(size=(30, 3))], 5, 1.0, 2).signature is None


def test_the_signature_fraction_places_an_answer_between_the_clean_and_the_degraded_cohort() -> None:
    levels = [(17.0, 0.5), (10.0, 0.9)]
    assert signature_fraction(0.9, 10.0, levels, 21.0, 0.1) == pytest.approx(1.0)
    assert signature_fraction(0.1, 10.0, levels, 21.0, 0.1) == 0.0
    assert signature_fraction(0.5, 10.0, levels, 21.0, 0.1) == pytest.approx(0.5)
    assert (
        signature_fraction(3.0, 10.0, levels, 21.0, 0.1) == 1.0 and signature_fraction(-3, 10.0, levels, 21, 0.1) == 0
    )
    # cleaner than the clean cohort, or references that do not differ: the level unscaled (nothing to scale by)
    assert signature_fraction(0.1, 25.0, levels, 21.0, 0.1) == 1.0


def test_answers_and_cohort_trials_are_scored_against_ubm_and_noise_model_on_one_scale() -> None:
    """An answer's raw score is its mean bounded LLR less NOISE_NORMALISATION times its signature, and the
    cohort's trial of the same takes (``take_llr_signature_sums``) gets the same value: the thresholds and
    the answers share one scale. White noise lowers the score by more than the LLR alone says."""
    ubm = load_default_ubm().gmm
    rng = np.random.default_rng(1)
    terms = model_terms(ubm, np.stack([ubm.means + rng.normal(0, 0.5, ubm.means.shape) for _ in range(10)]))
    noise = noise_model_terms(ubm)
    assert noise is not None and NOISE_NORMALISATION > 0
    digits = [1, 4, 9]
    paths = [require_fsdd() / "recordings" / f"{d}_nicolas_30.wav" for d in digits]
    for kind in (None, "white"):
        audio = [read_audio(p) if kind is None else mix(read_audio(p), kind, 10.0, p.name) for p in paths]
        feats = [postprocess(*extract(x), DEFAULT_POST) for x in audio]
        answer = score_answer(ubm, terms, digits, digits, feats, 20, 1.0, 8)
        frames = np.concatenate(feats)
        aligned = align(ubm, frames, 8)
        llr = bound_frame_llr(chosen_frame_llr(terms, frames, aligned, np.repeat(digits, [len(f) for f in feats])))
        sig = frame_signature(noise, frames, aligned)
        assert answer.raw == pytest.approx(llr.mean() - NOISE_NORMALISATION * sig.mean())
        sums, counts, _ = take_llr_signature_sums(ubm, terms, list(zip(digits, feats, strict=True)), 8, noise)
        assert trial_scores(sums, counts, [np.arange(3)])[0] == pytest.approx(answer.raw)
        if kind == "white":
            assert sig.mean() > 0.3 and answer.raw < llr.mean() - 0.1
