from __future__ import annotations

import numpy as np

from speakerverify.models import replay_v1 as replay


def _fps(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0, 10, (n, replay.FP_FRAMES, replay.FP_COEFFS)).astype(replay.FP_DTYPE)


def test_dtw_distance_is_zero_for_a_copy_and_never_above_the_unwarped_distance() -> None:
    rng = np.random.default_rng(0)
    c = _fps(rng, 20)
    q = c[3]
    assert replay.distances(q, c)[3] == 0
    assert np.all(replay.distances(q, c) <= replay.aligned_distances(q, c) + 1e-9)
    # a copy shifted by two frames: warping finds it, frame-by-frame comparison does not
    shifted = np.concatenate([q[2:], q[-2:]])
    assert replay.distances(shifted, c[3:4])[0] < 0.5 * replay.aligned_distances(shifted, c[3:4])[0]


def test_batched_nearest_equals_one_query_at_a_time() -> None:
    rng = np.random.default_rng(1)
    c = _fps(rng, 200)
    q = np.stack([c[5] + rng.normal(0, 0.3, c[5].shape), _fps(rng, 1)[0], c[150]]).astype(replay.FP_DTYPE)
    together = replay.nearest_many(q, c)
    alone = [replay.nearest(x, c) for x in q]
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-4)
    assert together[2] == 0 and together[0] < replay.REPLAY_THRESHOLD < together[1]


def test_keys_restrict_each_query_to_candidates_of_its_own_key() -> None:
    rng = np.random.default_rng(2)
    c = _fps(rng, 60)
    keys = np.arange(60) % 10
    q = np.stack([c[13], c[13], c[40]])  # c[13] has key 3, c[40] key 0
    got = replay.nearest_many(q, c, np.array([3, 7, 0]), keys)
    assert got[0] == 0 and got[2] == 0
    expected = replay.nearest(c[13], c[keys == 7])  # the same segment answering 7: only 7s are compared
    np.testing.assert_allclose(got[1], expected, rtol=1e-4)
    assert got[1] > replay.REPLAY_THRESHOLD
    assert np.isinf(replay.nearest_many(q[:1], c, np.array([11]), keys))[0]  # no candidate of its key
