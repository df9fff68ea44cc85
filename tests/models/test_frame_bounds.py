"""models.frame_bounds: each frame's LLR is bounded, so a few frames cannot carry a segment."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.models import frame_bounds as fb


def test_frames_are_clipped_to_the_bound() -> None:
    llr = np.array([-50.0, -1.0, 0.0, 2.5, 1e6])
    assert fb.bound_frame_llr(llr, 3.0).tolist() == [-3.0, -1.0, 0.0, 2.5, 3.0]


def test_a_few_huge_frames_cannot_carry_a_segment() -> None:
    genuine_like = np.full(100, -0.5)  # an impostor's 1 s segment, slightly negative throughout
    crafted = genuine_like.copy()
    crafted[:2] = 500.0  # two frames placed where one model dwarfs the UBM
    assert crafted.mean() > 9  # unbounded, two frames decide
    bounded = fb.bounded_mean_llr(crafted)
    assert bounded <= genuine_like.mean() + 2 * (fb.FRAME_LLR_BOUND + 0.5) / 100 + 1e-12
    assert bounded < 0


def test_mean_of_no_frames_is_minus_infinity() -> None:
    assert fb.bounded_mean_llr(np.zeros(0)) == float("-inf")


def test_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        fb.bound_frame_llr(np.zeros(3), 0.0)


def test_top_share() -> None:
    assert fb.top_share(np.array([10.0, 0.0, 0.0, 0.0]), 1) == 1.0
    assert fb.top_share(np.ones(4), 2) == 0.5
    assert fb.top_share(np.array([-1.0, -2.0]), 1) == 0.0
