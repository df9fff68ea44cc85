"""An answer's frames are post-processed and aligned to the UBM once: the plausibility gate's UBM test
and the scoring reuse that work, and decide exactly as they do computing it themselves."""

from __future__ import annotations

import numpy as np

from speakerverify.features import DEFAULT_POST, postprocess
from speakerverify.features.plausibility import DEFAULT_THRESHOLDS
from speakerverify.models.gmm import frame_log_likelihood
from speakerverify.models.scoring import align, model_terms
from speakerverify.models.speech import ubm_fault
from speakerverify.models.ubm import load_default_ubm
from speakerverify.voice.decision import score_answer
from support.fsdd import take


def test_scoring_with_the_answers_alignment_equals_scoring_alone() -> None:
    ubm = load_default_ubm()
    rng = np.random.default_rng(0)
    means = np.stack([ubm.gmm.means + rng.normal(0, 0.5, ubm.gmm.means.shape) for _ in range(10)])
    terms = model_terms(ubm.gmm, means, dtype=np.float32)
    digits = [3, 1, 4, 5, 9]
    feats = [postprocess(*take("jackson", d, 30), DEFAULT_POST) for d in digits]
    feats[2] = feats[2][:5]  # too short to score: its frames must be left out of the shared alignment
    aligned = align(ubm.gmm, np.concatenate(feats), 8)
    alone = score_answer(ubm.gmm, terms, digits, digits, feats, 20, 1.0, 8)
    shared = score_answer(ubm.gmm, terms, digits, digits, feats, 20, 1.0, 8, aligned)
    assert shared.segments[2].score is None
    assert shared.raw is not None and alone.raw is not None
    assert shared == alone or abs(shared.raw - alone.raw) < 1e-9
    ll = np.split(aligned.ubm_ll, np.cumsum([len(f) for f in feats])[:-1])
    for d, f, seg_ll in zip(digits, feats, ll, strict=True):
        np.testing.assert_allclose(seg_ll, frame_log_likelihood(ubm.gmm, f), rtol=1e-9, atol=1e-9)
        mfcc, energy = take("jackson", d, 30)
        assert ubm_fault(mfcc, energy, ubm, DEFAULT_THRESHOLDS, DEFAULT_POST)[0] is None
        assert (
            ubm_fault(mfcc, energy, ubm, DEFAULT_THRESHOLDS, DEFAULT_POST, postprocess(mfcc, energy), None)[0] is None
        )
