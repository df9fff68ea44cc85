"""Two models per user from the same takes: the take-only one (no noisy copies) comes out of the same sums
as the one with the copies, is kept through enrolment's adds and removes, and an answer's segments score
``max(take-only, copies - margin)``, exactly as calibration scores the cohort's takes."""

from __future__ import annotations

import numpy as np

from speakerverify.features import DEFAULT_POST, postprocess
from speakerverify.models.cohort import take_llr_sums
from speakerverify.models.frame_bounds import bound_frame_llr
from speakerverify.models.noisy_copies import NO_COPIES, take_stats
from speakerverify.models.scoring import COPIES_MARGIN, ModelTerms, align, terms_frame_llr
from speakerverify.models.speaker import SpeakerModel, digit_means, digit_terms
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.decision import score_answer
from speakerverify.voice.takes import contribution, stacked_model
from support.fsdd import take

DIGITS = (1, 4, 7)


def _takes(speaker: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    return [(d, *as_stored(*take(speaker, d, n))) for d in DIGITS for n in range(3)]


def test_the_take_only_model_is_the_model_without_copies_and_survives_add_and_remove() -> None:
    gmm = load_default_ubm().gmm
    takes = _takes("theo")
    dual = stacked_model(gmm, takes)
    plain = stacked_model(gmm, takes, recipe=NO_COPIES)
    own = dual.take_only
    assert own is not None
    assert np.allclose(own.n, plain.n, rtol=1e-6, atol=1e-6) and np.allclose(own.f, plain.f, rtol=1e-5, atol=1e-4)
    assert not np.allclose(dual.n, own.n)  # the copies are in the other model
    # Enrolment's path: one take added, then removed again, by its contribution (with its take-only part).
    extra = (4, *as_stored(*take("theo", 4, 5)))
    grown = dual.add(4, contribution(gmm, extra[1], extra[2]))
    back = grown.remove(4, contribution(gmm, extra[1], extra[2]))
    assert back.take_only is not None and grown.take_only is not None
    assert np.allclose(back.take_only.n, own.n, atol=1e-6)
    rebuilt = stacked_model(gmm, [*takes, extra])
    assert rebuilt.take_only is not None
    assert np.allclose(grown.take_only.n, rebuilt.take_only.n, rtol=1e-5, atol=1e-5)
    # take_stats (evaluation's float64 path) carries the same take-only part
    exact = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for d, m, e in takes:
        exact = exact.add(d, take_stats(gmm, m, e))
    assert exact.take_only is not None
    assert np.abs(digit_means(gmm, exact.take_only) - digit_means(gmm, own)).max() < 1e-4


def test_answers_and_cohort_takes_score_the_better_matching_model_less_the_margin() -> None:
    ubm = load_default_ubm()
    gmm = ubm.gmm
    terms = digit_terms(gmm, stacked_model(gmm, _takes("theo")), dtype=np.float32)
    assert terms.take is not None
    copies_only = ModelTerms(terms.linear, terms.const)
    for speaker in ("theo", "jackson"):  # genuine and impostor
        feats = [postprocess(*take(speaker, d, 30), DEFAULT_POST) for d in DIGITS]
        answer = score_answer(gmm, terms, list(DIGITS), list(DIGITS), feats, 20, 10.0, 8)
        sums, counts = take_llr_sums(gmm, terms, list(zip(DIGITS, feats, strict=True)), 8)
        for seg, f, d, s, n in zip(answer.segments, feats, DIGITS, sums, counts, strict=True):
            aligned = align(gmm, f, 8)
            with_copies = float(bound_frame_llr(terms_frame_llr(copies_only, f, aligned)[d]).mean())
            take_only = float(bound_frame_llr(terms_frame_llr(terms.take, f, aligned)[d]).mean())
            expected = max(take_only, with_copies - COPIES_MARGIN)
            assert seg.score is not None and abs(seg.score - expected) < 1e-4
            assert abs(s / n - seg.score) < 1e-4  # calibration scores the cohort's takes identically
        assert answer.raw is not None and abs(answer.raw - sums.sum() / counts.sum()) < 1e-4
        alone = score_answer(gmm, copies_only, list(DIGITS), list(DIGITS), feats, 20, 10.0, 8)
        assert [s.content_ok for s in alone.segments] == [s.content_ok for s in answer.segments]
