from __future__ import annotations

import numpy as np

from speakerverify.models.baseline import SeedBaseline, split_train_test


def test_split_alternates_per_digit():
    train, test = split_train_test([0, 1, 0, 0, 1, 1])
    assert train == [0, 1, 3, 5]
    assert test == [2, 4]


def test_threshold_and_scores_follow_the_original_definitions():
    rng = np.random.default_rng(0)
    utts = [(d, rng.normal(0, 1, (60, 12))) for _ in range(4) for d in range(10)]
    model = SeedBaseline.fit(utts)
    _, test = split_train_test([d for d, _ in utts])
    ll = model.gmm.score_samples(np.concatenate([utts[i][1] for i in test]))
    assert np.isclose(model.threshold, ll.mean() - ll.std())
    assert 70 < model.reference < 95
    assert model.score(rng.normal(0, 1, (200, 12))) > model.score(rng.normal(2, 1, (200, 12)))
