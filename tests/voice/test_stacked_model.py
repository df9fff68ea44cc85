"""A model derived from many takes at once (stacked posteriors, float32) is the sum of the takes'
contributions that enrolment adds one by one, and of ``take_stats``' float64 sums."""

from __future__ import annotations

import numpy as np

from speakerverify.models.noisy_copies import take_stats
from speakerverify.models.speaker import SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.takes import contribution, stacked_model
from support.fsdd import take


def test_the_stacked_model_is_the_sum_of_the_takes_contributions() -> None:
    gmm = load_default_ubm().gmm
    takes = [(d, *as_stored(*take("theo", d, n))) for d in (1, 4, 7) for n in range(3)]
    one_by_one, exact = SpeakerModel.empty(gmm.n_components, gmm.dim), SpeakerModel.empty(gmm.n_components, gmm.dim)
    for digit, mfcc, energy in takes:
        one_by_one = one_by_one.add(digit, contribution(gmm, mfcc, energy))
        exact = exact.add(digit, take_stats(gmm, mfcc, energy))
    stacked = stacked_model(gmm, takes)
    assert stacked.takes.tolist() == [0, 3, 0, 0, 3, 0, 0, 3, 0, 0]
    for other in (one_by_one, exact):
        assert np.allclose(stacked.n, other.n, rtol=1e-5, atol=1e-6)
        assert np.abs(digit_means(gmm, stacked) - digit_means(gmm, other)).max() < 1e-4
    assert stacked.n[1].sum() > 0 and not stacked.n[0].any()  # digits without takes stay empty
