"""score_answer and decide, the pure heart of a verification: no database, no HTTP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from speakerverify.models.digits import segment_digit_scores
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.noise_signature import reference_signature
from speakerverify.models.scoring import model_terms
from speakerverify.voice.decision import (
    EXCESS_SIGNATURE_COST,
    REASONS,
    AnswerScore,
    Calibration,
    Decision,
    SegmentScore,
    decide,
    reason,
    score_answer,
)

C, D = 16, 4


@pytest.fixture(scope="module")
def setup() -> tuple[DiagGMM, np.ndarray]:
    rng = np.random.default_rng(0)
    ubm = DiagGMM(np.full(C, 1 / C), rng.normal(0, 3, (C, D)), rng.uniform(0.5, 1.5, (C, D)))
    means = np.stack([ubm.means + rng.normal(0, 1.0, ubm.means.shape) for _ in range(10)])
    return ubm, means


def _frames(ubm: DiagGMM, means: np.ndarray, digit: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    comp = rng.integers(0, C, n)
    return means[digit][comp] + rng.normal(size=(n, D)) * np.sqrt(ubm.variances[comp])


def _score(setup, prompted, claimed, feats, min_frames=8, margin=0.6) -> AnswerScore:
    ubm, means = setup
    return score_answer(ubm, model_terms(ubm, means), prompted, claimed, feats, min_frames, margin, 8)


def test_the_answer_score_is_the_frame_weighted_mean_of_its_segments(setup) -> None:
    ubm, means = setup
    prompted = [3, 1, 7]
    feats = [_frames(ubm, means, d, n, i) for i, (d, n) in enumerate(zip(prompted, [40, 80, 25], strict=True))]
    answer = _score(setup, prompted, prompted, feats)
    rows = segment_digit_scores(ubm, model_terms(ubm, means), feats, 8)
    expected = sum(rows[i, d] * len(f) for i, (d, f) in enumerate(zip(prompted, feats, strict=True))) / 145
    assert answer.raw == pytest.approx(expected)
    assert answer.n_frames == 145 and answer.digits_match
    assert [s.digit for s in answer.segments] == prompted


def test_a_segment_of_another_digit_or_a_wrong_label_fails_the_content_check(setup) -> None:
    ubm, means = setup
    feats = [_frames(ubm, means, 5, 60, 1), _frames(ubm, means, 2, 60, 2)]
    spoken_wrong = _score(setup, [5, 8], [5, 8], feats)  # the second segment says 2, not 8
    assert [s.content_ok for s in spoken_wrong.segments] == [True, False] and not spoken_wrong.digits_match
    labelled_wrong = _score(setup, [5, 2], [5, 3], feats)  # right audio, but the client claims another digit
    assert not labelled_wrong.segments[1].content_ok


def test_too_short_segments_are_not_scored_and_nothing_scored_has_no_score(setup) -> None:
    ubm, means = setup
    short = _score(setup, [4], [4], [_frames(ubm, means, 4, 5, 3)])
    assert short.raw is None and short.n_frames == 0
    assert short.segments == [SegmentScore(4, 5, None, False, None)]
    decision = decide(short, np.array([9.0]), Calibration("provisional", 0.0, -1e6, 1), 1.4)
    assert not decision.accept and decision.score is None


def test_decide_needs_every_condition(setup) -> None:
    good = AnswerScore([SegmentScore(1, 50, 2.0, True, 1.0)], 2.0, 50)
    calib = Calibration("deployment", 0.5, 1.0, 1)
    far = np.array([5.0])
    assert decide(good, far, calib, 1.4).accept  # 2.0 - 0.5 = 1.5 >= 1.0
    assert decide(good, far, calib, 1.4).score == pytest.approx(1.5)
    assert not decide(good, far, Calibration("deployment", 1.5, 1.0, 1), 1.4).accept  # 0.5 < 1.0
    assert not decide(good, np.array([1.0]), calib, 1.4).accept  # a replay
    assert decide(good, np.array([1.0]), calib, 1.4).replayed == [True]
    wrong = AnswerScore([SegmentScore(1, 50, 2.0, False, -3.0)], 2.0, 50)
    assert not decide(wrong, far, calib, 1.4).accept


def _answer(*segments: tuple[float | None, bool]) -> AnswerScore:
    segs = [
        SegmentScore(i, 0 if s is None else 30, s, ok, None if s is None else 0.1) for i, (s, ok) in enumerate(segments)
    ]
    return AnswerScore(segs, 1.0, 30)


@pytest.mark.parametrize(
    ("segments", "accept", "replayed", "expected"),
    [
        ([(2.0, True), (2.0, True)], True, [False, False], "accepted"),
        # every failure at once: the shortest segment is named first (the person can fix it by speaking longer)
        ([(None, False), (0.1, False)], False, [True, True], "too_short"),
        ([(0.1, False), (0.1, True)], False, [False, True], "replay_suspected"),
        ([(2.0, True), (2.0, False)], False, [False, False], "digits_not_matched"),
        ([(0.1, True), (0.1, True)], False, [False, False], "voice_not_matched"),
    ],
)
def test_the_reason_follows_the_documented_precedence(segments, accept, replayed, expected) -> None:
    answer = _answer(*segments)
    got = reason(answer, Decision(accept, 0.5 if accept else -0.5, replayed))
    assert got == expected and got in REASONS


def test_reason_agrees_with_decide(setup) -> None:
    """The mapping from decide's real output: a genuine answer is accepted, a replay of it is not."""
    ubm, means = setup
    feats = [_frames(ubm, means, d, 60, 10 + d) for d in (1, 2)]
    answer = _score(setup, [1, 2], [1, 2], feats)
    lenient = Calibration("provisional", 0.0, -1e9, 2)
    assert reason(answer, decide(answer, np.array([1.0, 1.0]), lenient, 0.5)) == "accepted"
    assert reason(answer, decide(answer, np.array([1.0, 0.1]), lenient, 0.5)) == "replay_suspected"
    strict = Calibration("provisional", 0.0, 1e9, 2)
    assert reason(answer, decide(answer, np.array([1.0, 1.0]), strict, 0.5)) == "voice_not_matched"


NOISY = Calibration(
    "deployment", 0.5, 0.8, 5, levels=((17.0, 0.3, 1.1), (10.0, 0.1, 1.4), (6.0, 0.0, 1.6)), clean_snr_db=21.0
)
"""Noisy points as the deployments measured so far have them: each asks more of the raw score
(location + threshold: 1.3 clean, 1.4, 1.5, 1.6) as the noise grows (BENCHMARKS.md, SECURITY.md)."""


def _one(raw: float) -> AnswerScore:
    seg = SegmentScore(1, 50, raw, True, 0.5)
    return AnswerScore([seg], raw, 50)


def test_the_operating_point_follows_the_answers_measured_snr() -> None:
    assert NOISY.operating_point(None) == (0.5, 0.8)  # not measured: the clean point
    assert NOISY.operating_point(40.0) == (0.5, 0.8)  # cleaner than the clean cohort: still the clean point
    assert NOISY.operating_point(10.0) == pytest.approx((0.1, 1.4))
    assert NOISY.operating_point(13.5) == pytest.approx((0.2, 1.25))  # half-way between 10 and 17 dB
    assert NOISY.operating_point(5.5) == pytest.approx((0.0, 1.6))  # within the tolerance of the noisiest level
    assert NOISY.operating_point(4.9) is None  # below it: no FAR can be promised
    # a calibration without levels (provisional, or from before them) has one point for every SNR
    assert Calibration("provisional", 0.0, 1.7, 5).operating_point(3.0) == (0.0, 1.7)


def test_claiming_noise_never_lowers_what_the_raw_score_must_reach() -> None:
    """The attack: the SNR is measured from frames the claimant sends, so raising the quiet frames' energy
    makes a clean answer look noisy. A noisy point whose cohort asked less of the raw score than the clean
    point would let such an answer through at the noisy point's lower bar; it is held to the clean bar."""
    lower = Calibration("deployment", 0.5, 0.8, 5, levels=((17.0, 0.3, 0.6), (10.0, 0.1, 0.4)), clean_snr_db=21.0)
    assert lower.operating_point(17.0) == pytest.approx((0.3, 1.0))  # 0.3 + 0.6 < 1.3: raised to 1.3
    raw_1_2 = _one(1.2)  # below the clean bar, above both noisy cohorts' own bars
    assert not any(decide(raw_1_2, np.array([1.0]), lower, 0.1, snr).accept for snr in (25.0, 17.0, 13.0, 10.0))
    rng = np.random.default_rng(0)
    for _ in range(200):  # whatever the levels, no measured SNR asks less than the clean point
        loc, thr = rng.uniform(-1, 1, 2)
        levels = tuple((float(s), *map(float, rng.uniform(-1, 1, 2))) for s in (18.0, 14.0, 9.0, 5.0))
        c = Calibration("deployment", float(loc), float(thr), 5, levels, 22.0)
        for snr in np.linspace(4.5, 30.0, 52):
            point = c.operating_point(float(snr))
            assert point is not None and sum(point) >= loc + thr - 1e-12


def test_a_noisy_answer_is_held_to_its_own_threshold_and_a_too_noisy_one_is_refused_whatever_its_score() -> None:
    none = np.array([1.0])
    # raw 1.45: above the clean point (1.45 - 0.5 >= 0.8), below the 10 dB one (1.45 - 0.1 < 1.4)
    assert decide(_one(1.45), none, NOISY, 0.1, 25.0).accept
    at10 = decide(_one(1.45), none, NOISY, 0.1, 10.0)
    assert not at10.accept and at10.threshold == pytest.approx(1.4) and at10.score == pytest.approx(1.35)
    assert decide(_one(1.55), none, NOISY, 0.1, 10.0).accept
    loud = decide(_one(50.0), none, NOISY, 0.1, 2.0)
    assert not loud.accept and loud.too_noisy and reason(_one(50.0), loud) == "too_noisy"
    # a suspected replay outranks the noise; the noise outranks the digits and the voice
    replayed = decide(_one(50.0), np.array([0.0]), NOISY, 0.1, 2.0)
    assert reason(_one(50.0), replayed) == "replay_suspected"
    wrong = AnswerScore([SegmentScore(1, 50, 0.1, False, -2.0)], 0.1, 50)
    assert reason(wrong, decide(wrong, none, NOISY, 0.1, 2.0)) == "too_noisy"
    assert REASONS.index("replay_suspected") < REASONS.index("too_noisy") < REASONS.index("digits_not_matched")


SIGNED = replace(NOISY, signatures=(0.5, 0.9, 1.1), clean_signature=0.1)
"""NOISY with the cohort's noise signatures: clean 0.1, then 0.5, 0.9 and 1.1 at the 17, 10 and 6 dB levels."""


def test_the_noise_signature_scales_what_a_noisy_level_asks_above_the_clean_point() -> None:
    """At 10 dB the level asks 1.5 of the raw score, the clean point 1.3. Noise that shows the degraded
    cohort's signature (0.9 at 10 dB) is held to the level; noise that shows none of it (the clean cohort's
    0.1: other speech, which raises impostor scores far less) to the clean point; half of it, half-way."""
    required = {sig: sum(SIGNED.operating_point(10.0, sig) or (0, 0)) for sig in (0.1, 0.5, 0.9, -3.0)}
    assert required[0.9] == pytest.approx(1.5)  # the level
    assert required[0.1] == pytest.approx(1.3) and required[-3.0] == pytest.approx(1.3)  # at least clean
    assert required[0.5] == pytest.approx(1.4)
    # the location is the level's (the user's own at that noise), only the bar moves
    assert SIGNED.operating_point(10.0, 0.5)[0] == pytest.approx(0.1)  # type: ignore[index]
    # between levels the references are interpolated like the thresholds: 13.5 dB asks 1.45 at most
    assert sum(SIGNED.operating_point(13.5, 0.7) or (0, 0)) == pytest.approx(1.45)  # the reference there
    assert sum(SIGNED.operating_point(13.5, 0.4) or (0, 0)) == pytest.approx(1.3 + 0.15 * 0.3 / 0.6)
    # without the answer's signature, or without the cohort's, the level serves unscaled
    assert SIGNED.operating_point(10.0) == NOISY.operating_point(10.0)
    assert NOISY.operating_point(10.0, 0.1) == NOISY.operating_point(10.0)
    assert SIGNED.operating_point(4.9, 0.1) is None  # too noisy is too noisy, whatever the signature


def test_a_signature_beyond_the_degraded_cohorts_asks_more_than_the_level() -> None:
    """The attack: cepstra flattened towards their mean fit every user's noisy copies and show more of the
    construction than the construction itself does at the claimed SNR (SECURITY.md "Flattened cepstra").
    Capped at the level, x0.4 flattening claiming 7 dB was accepted at 5.8%; each unit of signature beyond
    the reference at the measured SNR now asks ``EXCESS_SIGNATURE_COST`` more of the raw score."""
    assert sum(SIGNED.operating_point(10.0, 1.4) or (0, 0)) == pytest.approx(1.5 + EXCESS_SIGNATURE_COST * 0.5)
    flattened = AnswerScore([SegmentScore(1, 80, 2.0, True, 1.0)], 2.0, 80, signature=1.4)
    assert decide(replace(flattened, signature=0.9), np.array([1.0]), SIGNED, 0.1, 10.0).accept  # the level: 1.5
    assert not decide(flattened, np.array([1.0]), SIGNED, 0.1, 10.0).accept  # 2.0 < 2.5
    # claiming more noise raises the reference, so the excess shrinks, but never below the level's ask
    bars = [sum(SIGNED.operating_point(snr, 1.4) or (0, 0)) for snr in (17.0, 13.5, 10.0, 6.0)]
    assert all(b >= 1.5 - 1e-12 for b in bars) and bars[0] > bars[-1]
    # clean answers' signatures scatter: up to the mildest level's (0.5) a clean answer is not charged
    assert sum(SIGNED.operating_point(25.0, 0.45) or (0, 0)) == pytest.approx(1.3)
    assert sum(SIGNED.operating_point(25.0, 0.7) or (0, 0)) == pytest.approx(1.3 + EXCESS_SIGNATURE_COST * 0.2)
    # what is asked never falls as the signature rises, at any SNR
    for snr in (20.0, 17.0, 12.0, 8.0, 6.0):
        asked = [sum(SIGNED.operating_point(snr, float(sig)) or (0, 0)) for sig in np.linspace(-1, 4, 101)]
        assert np.all(np.diff(asked) >= -1e-12)


def test_no_signature_and_no_claimed_snr_asks_less_than_the_clean_point() -> None:
    """The claimed-noise defence holds with the signature: a clean answer whose quiet frames claim noise shows
    the clean signature and is held to the clean point; no signature (the speech frames are the claimant's
    too) moves the bar below the clean point, nor above the level's unscaled one by more than the excess
    signature's cost."""
    clean_claiming_noise = decide(_one(1.25), np.array([1.0]), SIGNED, 0.1, 10.0)
    assert not clean_claiming_noise.accept  # 1.25 < 1.3: the clean bar, although the signature is the clean one
    rng = np.random.default_rng(1)
    for _ in range(200):
        loc, thr = rng.uniform(-1, 1, 2)
        levels = tuple((float(s), *map(float, rng.uniform(-1, 1, 2))) for s in (18.0, 14.0, 9.0, 5.0))
        sigs = tuple(float(x) for x in np.sort(rng.uniform(0, 2, 4)))
        c = Calibration("deployment", float(loc), float(thr), 5, levels, 22.0, sigs, float(rng.uniform(-0.5, 0.5)))
        refs = [(lv[0], sg) for lv, sg in zip(levels, sigs, strict=True)]
        for snr in np.linspace(4.5, 30.0, 27):
            unscaled = c.operating_point(float(snr))
            ref = reference_signature(float(snr), refs, 22.0, c.clean_signature or 0.0)
            for sig in rng.uniform(-3, 3, 5):
                point = c.operating_point(float(snr), float(sig))
                assert point is not None and unscaled is not None
                excess = EXCESS_SIGNATURE_COST * max(0.0, float(sig) - ref)
                assert loc + thr - 1e-12 <= sum(point) <= sum(unscaled) + excess + 1e-12
