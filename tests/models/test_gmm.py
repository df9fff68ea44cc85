from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal

from speakerverify.models.gmm import DiagGMM, em, frame_log_likelihood, posteriors, train_gmm, weighted_log_densities


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-2, 0.5, (300, 3)), rng.normal(1, 1.5, (500, 3)), rng.normal(4, 0.3, (200, 3))])


def test_densities_match_scipy():
    rng = np.random.default_rng(3)
    gmm = DiagGMM(np.array([0.3, 0.7]), rng.normal(size=(2, 4)), rng.uniform(0.5, 2, (2, 4)))
    x = rng.normal(size=(5, 4))
    expected = np.stack(
        [
            np.log(w) + multivariate_normal(m, np.diag(v)).logpdf(x)
            for w, m, v in zip(gmm.weights, gmm.means, gmm.variances, strict=True)
        ],
        axis=1,
    )
    assert np.allclose(weighted_log_densities(gmm, x), expected)
    assert np.allclose(posteriors(gmm, x).sum(axis=1), 1)
    assert np.allclose(frame_log_likelihood(gmm, x), np.log(np.exp(expected).sum(axis=1)))


def test_em_log_likelihood_never_decreases():
    x = _data()
    rng = np.random.default_rng(0)
    init = DiagGMM(np.full(4, 0.25), x[rng.choice(len(x), 4, replace=False)], np.ones((4, 3)))
    _, history = em(x, init, 30, var_floor=np.full(3, 1e-3))
    assert np.all(np.diff(history) >= -1e-9)
    assert history[-1] > history[0] + 0.5


def test_training_is_deterministic_and_finds_the_clusters():
    x = _data()
    a = train_gmm(x, 4, seed=7)
    b = train_gmm(x, 4, seed=7)
    assert np.array_equal(a.means, b.means)
    # every true cluster centre has a component close to it
    for centre in (-2.0, 1.0, 4.0):
        assert np.min(np.abs(a.means.mean(axis=1) - centre)) < 0.5
