from __future__ import annotations

import numpy as np

from speakerverify.models.cohort import assemble_trials, take_llr_sums, trial_scores
from speakerverify.models.digits import content_margin, digit_scores
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.scoring import frame_llr


def _ubm():
    rng = np.random.default_rng(0)
    return DiagGMM(np.full(16, 1 / 16), rng.normal(0, 3, (16, 4)), rng.uniform(0.5, 1.5, (16, 4)))


def test_digit_scores_pick_the_model_the_frames_come_from():
    ubm = _ubm()
    rng = np.random.default_rng(1)
    means = np.stack([ubm.means + rng.normal(0, 1.0, ubm.means.shape) for _ in range(10)])
    # frames drawn from digit 7's mixture
    comp = rng.integers(0, 16, 300)
    feats = means[7][comp] + rng.normal(size=(300, 4)) * np.sqrt(ubm.variances[comp])
    scores = digit_scores(ubm, means, feats)
    assert int(np.argmax(scores)) == 7
    assert content_margin(scores, 7) > 0 > content_margin(scores, 3)
    assert np.isclose(scores[2], frame_llr(ubm, means[2], feats).mean())


def test_trials_use_distinct_digits_of_one_owner():
    digits = np.array([0, 1, 2, 3, 0, 1, 2, 3, 4, 5])
    owners = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    trials = assemble_trials(digits, owners, 3, 5, np.random.default_rng(0))
    assert len(trials) == 10
    for t in trials:
        assert len(set(owners[t])) == 1
        assert len(set(digits[t])) == 3
    # owner 0 has only four distinct digits: no 5-digit trial can be built from its takes
    five = assemble_trials(digits, owners, 5, 5, np.random.default_rng(0))
    assert len(five) == 5 and all(set(owners[t]) == {1} for t in five)


def test_trial_score_is_the_frame_weighted_mean_of_its_takes():
    ubm = _ubm()
    rng = np.random.default_rng(2)
    means = np.stack([ubm.means + 0.5 for _ in range(10)])
    takes = [(d, rng.normal(size=(n, 4))) for d, n in ((1, 20), (4, 50), (6, 0))]
    sums, counts = take_llr_sums(ubm, means, takes)
    assert counts.tolist() == [20, 50, 0]
    expected = np.concatenate([frame_llr(ubm, means[d], f) for d, f in takes]).mean()
    assert np.isclose(trial_scores(sums, counts, [np.array([0, 1, 2])])[0], expected)
