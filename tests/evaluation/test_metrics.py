from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation.metrics import eer, frr_at_far, min_dcf, plot_det


def test_fully_separated_scores_have_zero_error():
    target = np.linspace(5, 6, 100)
    impostor = np.linspace(0, 1, 300)
    assert eer(target, impostor) == 0
    assert min_dcf(target, impostor) == 0
    assert frr_at_far(target, impostor, 0.01) == 0


def test_identical_distributions_give_half():
    rng = np.random.default_rng(0)
    assert eer(rng.normal(size=20000), rng.normal(size=20000)) == pytest.approx(0.5, abs=0.02)
    assert min_dcf(rng.normal(size=5000), rng.normal(size=5000)) == pytest.approx(1.0, abs=0.02)


def test_gaussian_eer_matches_theory():
    # N(d, 1) vs N(0, 1): EER = Phi(-d / 2)
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    assert eer(rng.normal(2, 1, 50000), rng.normal(0, 1, 50000)) == pytest.approx(norm.cdf(-1), abs=0.01)


def test_frr_at_far_counts_ties_as_accepted():
    target = np.array([1.0, 2.0, 3.0, 4.0])
    impostor = np.array([0.0] * 98 + [2.5, 3.0])
    # FAR 1% admits one impostor: the threshold must pass 2.5, and t = 3.0 (ties accepted) misses 1.0 and 2.0
    assert frr_at_far(target, impostor, 0.01) == 0.5
    assert frr_at_far(target, impostor, 0.0) == 0.75


def test_det_plot_writes_png(tmp_path):
    rng = np.random.default_rng(2)
    out = tmp_path / "det.png"
    plot_det({"a": (rng.normal(2, 1, 500), rng.normal(0, 1, 500))}, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
