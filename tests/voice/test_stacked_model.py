"""A model derived from many takes at once (stacked posteriors, float32) is the sum of the takes'
contributions that enrolment adds one by one, and of ``take_stats``' float64 sums."""

from __future__ import annotations

import numpy as np

from speakerverify.models.noisy_copies import CONTENT_RECIPE, DEFAULT_RECIPE, take_stats
from speakerverify.models.speaker import SpeakerModel, digit_means
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.utterances import as_stored
from speakerverify.voice.takes import (
    DEFAULT_RECIPES,
    UserModel,
    contribution,
    stacked_model,
    stacked_user_model,
    take_stats_pair,
)
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


def test_both_models_at_once_are_each_recipes_own_model() -> None:
    """The voice and content models built together (their shared copies drawn and put through the
    posteriors once) are each recipe's model built alone, and the sum of the takes' pair contributions."""
    assert DEFAULT_RECIPES.voice == DEFAULT_RECIPE and DEFAULT_RECIPES.content == CONTENT_RECIPE
    assert DEFAULT_RECIPE.conditions[:3] == CONTENT_RECIPE.conditions[:3]  # shared: the case that matters
    gmm = load_default_ubm().gmm
    takes = [(d, *as_stored(*take("theo", d, n))) for d in (2, 5) for n in range(3)]
    both = stacked_user_model(gmm, takes)
    one_by_one = UserModel.empty(gmm.n_components, gmm.dim)
    for digit, mfcc, energy in takes:
        one_by_one = one_by_one.add(digit, take_stats_pair(gmm, mfcc, energy))
    for got, pair, recipe in (
        (both.voice, one_by_one.voice, DEFAULT_RECIPE),
        (both.content, one_by_one.content, CONTENT_RECIPE),
    ):
        alone = stacked_model(gmm, takes, recipe=recipe)
        for other in (alone, pair):
            assert np.array_equal(got.takes, other.takes)
            assert np.allclose(got.n, other.n, rtol=1e-5, atol=1e-6)
            assert np.abs(digit_means(gmm, got) - digit_means(gmm, other)).max() < 1e-4
    assert np.abs(digit_means(gmm, both.voice) - digit_means(gmm, both.content)).max() > 1e-2  # different copies
