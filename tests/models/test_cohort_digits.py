from __future__ import annotations

import numpy as np

from speakerverify.models import cohort
from speakerverify.models.cohort import assemble_trials, take_llr_sums, trial_scores
from speakerverify.models.digits import content_margin, digit_scores, segment_digit_scores
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.scoring import frame_llr, model_terms


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


def _direct_llr(ubm, means, feats, top_c):
    """The definition, component by component: log sum_c w N(x; mu_c, var) over the UBM's top-c, minus log p_UBM."""

    def log_dens(mu):
        return (
            np.log(ubm.weights)
            - 0.5 * np.sum(np.log(2 * np.pi * ubm.variances), axis=1)
            - 0.5 * np.sum((feats[:, None, :] - mu[None]) ** 2 / ubm.variances[None], axis=2)
        )

    ubm_d, spk_d = log_dens(ubm.means), log_dens(means)
    top = np.argsort(-ubm_d, axis=1)[:, :top_c]
    spk_top = np.take_along_axis(spk_d, top, axis=1)
    return np.log(np.exp(spk_top).sum(axis=1)) - np.log(np.exp(ubm_d).sum(axis=1))


def test_frame_llr_matches_the_definition():
    ubm = _ubm()
    rng = np.random.default_rng(5)
    means = ubm.means + rng.normal(0, 0.7, ubm.means.shape)
    feats = rng.normal(0, 3, (40, 4))
    for top_c in (3, 16):
        assert np.allclose(frame_llr(ubm, means, feats, top_c), _direct_llr(ubm, means, feats, top_c), atol=1e-9)


def test_segments_scored_together_equal_segments_scored_alone():
    ubm = _ubm()
    rng = np.random.default_rng(3)
    means = np.stack([ubm.means + rng.normal(0, 1.0, ubm.means.shape) for _ in range(10)])
    segments = [rng.normal(0, 3, (n, 4)) for n in (25, 0, 7, 60)]
    together = segment_digit_scores(ubm, model_terms(ubm, means), segments)
    assert together.shape == (4, 10)
    assert np.all(np.isneginf(together[1]))
    for i in (0, 2, 3):
        assert np.allclose(together[i], digit_scores(ubm, means, segments[i]), atol=1e-10)


def test_take_sums_do_not_depend_on_how_takes_are_batched(monkeypatch):
    ubm = _ubm()
    rng = np.random.default_rng(4)
    means = np.stack([ubm.means + rng.normal(0, 1.0, ubm.means.shape) for _ in range(10)])
    takes = [
        (int(d), rng.normal(0, 3, (int(n), 4)))
        for d, n in zip(rng.integers(0, 10, 30), rng.integers(0, 40, 30), strict=True)
    ]
    one_pass = take_llr_sums(ubm, means, takes)
    monkeypatch.setattr(cohort, "_FRAMES_PER_PASS", 50)  # forces many passes, one take per pass at times
    many = take_llr_sums(ubm, means, takes)
    assert np.allclose(one_pass[0], many[0], atol=1e-9) and np.array_equal(one_pass[1], many[1])
    alone = [frame_llr(ubm, means[d], f).sum() if len(f) else 0.0 for d, f in takes]
    assert np.allclose(one_pass[0], alone, atol=1e-9)
