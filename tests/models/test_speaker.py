from __future__ import annotations

import numpy as np

from speakerverify.models.gmm import DiagGMM
from speakerverify.models.scoring import frame_llr
from speakerverify.models.speaker import SpeakerModel, Stats, map_means, utterance_stats


def _ubm():
    rng = np.random.default_rng(0)
    return DiagGMM(np.full(8, 1 / 8), rng.normal(0, 3, (8, 5)), rng.uniform(0.5, 1.5, (8, 5)))


def _utt(seed, shift=0.0, n=80):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, 5))


def test_map_with_infinite_relevance_returns_prior_and_zero_relevance_returns_ml_means():
    ubm = _ubm()
    stats = utterance_stats(ubm, _utt(1))
    assert np.allclose(map_means(ubm.means, stats, 1e12), ubm.means)
    occupied = stats.n > 1e-3
    ml = stats.f[occupied] / stats.n[occupied, None]
    assert np.allclose(map_means(ubm.means, stats, 0.0)[occupied], ml)


def test_incremental_statistics_equal_batch_and_remove_restores():
    ubm = _ubm()
    utts = [_utt(i) for i in range(4)]
    model = SpeakerModel.empty(8, 5)
    for i, u in enumerate(utts):
        model = model.add(i % 2, utterance_stats(ubm, u))
    batch = utterance_stats(ubm, np.concatenate(utts))
    assert np.allclose(model.total.n, batch.n) and np.allclose(model.total.f, batch.f)
    removed = model.remove(1, utterance_stats(ubm, utts[3]))
    expected = utterance_stats(ubm, np.concatenate(utts[:3]))
    assert np.allclose(removed.total.n, expected.n) and np.allclose(removed.total.f, expected.f)
    assert removed.takes.tolist()[:2] == [2, 1]


def test_removing_the_last_take_leaves_exact_zeros():
    ubm = _ubm()
    s = utterance_stats(ubm, _utt(2))
    model = SpeakerModel.empty(8, 5).add(3, s).remove(3, s)
    assert not model.n.any() and not model.f.any()


def test_adapted_model_prefers_its_speaker():
    ubm = _ubm()
    stats = Stats(np.zeros(8), np.zeros((8, 5)))
    for i in range(5):
        stats = stats + utterance_stats(ubm, _utt(i, shift=1.0))
    means = map_means(ubm.means, stats, 16.0)
    own = frame_llr(ubm, means, _utt(99, shift=1.0)).mean()
    other = frame_llr(ubm, means, _utt(98, shift=-1.0)).mean()
    assert own > 0 > other


def test_top_c_scoring_approximates_full_scoring():
    ubm = _ubm()
    means = ubm.means + 0.3
    x = _utt(5)
    full = frame_llr(ubm, means, x, top_c=0)
    top = frame_llr(ubm, means, x, top_c=4)
    assert abs(full.mean() - top.mean()) < 0.02
    assert np.mean(np.abs(full - top) < 0.01) > 0.9
    assert frame_llr(ubm, means, np.zeros((0, 5))).shape == (0,)
