from __future__ import annotations

import numpy as np
import pytest

from speakerverify.features import DEFAULT_POST, PostConfig, postprocess
from speakerverify.features.cepstra import mfcc_of
from speakerverify.features.postprocess import deltas, moving_average, speech_mask, subtracted


def test_deltas_of_a_ramp_are_its_slope():
    x = np.outer(np.arange(20.0), [1.0, -3.0])
    d = deltas(x, 2)
    assert np.allclose(d[2:-2], [1.0, -3.0])


def test_speech_mask_keeps_frames_within_dynamic_range():
    energy = np.array([1e6, 1e3 * 1.01, 1e2, 0.0, 5e5])
    assert speech_mask(energy, 30).tolist() == [True, True, False, False, True]
    assert not speech_mask(np.zeros(4), 30).any()


def test_postprocess_shapes_and_cmn():
    rng = np.random.default_rng(0)
    mfcc = rng.standard_normal((50, 13)) + 7
    energy = np.full(50, 1e6)
    energy[:5] = 1.0
    feats = postprocess(mfcc, energy)
    assert feats.shape == (45, DEFAULT_POST.dim())
    assert feats.dtype == np.float32
    assert np.allclose(feats[:, :12].mean(axis=0), 0, atol=1e-5)
    # c0 dropped: statics are c1..c12 minus their mean
    assert np.allclose(feats[:, :12], mfcc[5:, 1:] - mfcc[5:, 1:].mean(axis=0), atol=1e-5)


def test_statics_only_keeps_c0_when_asked():
    mfcc = np.arange(26.0).reshape(2, 13)
    feats = postprocess(mfcc, np.ones(2), PostConfig(post_id="t", drop_c0=False, cmn=False, delta_order=0))
    assert np.allclose(feats, mfcc)


def test_feature_warping_undoes_a_shrunk_and_shifted_spread_that_cmn_keeps():
    rng = np.random.default_rng(1)
    mfcc = rng.standard_normal((40, 13)) * 3
    squeezed = mfcc * 0.4 + 2.0  # what noise does to a coefficient's range, crudely
    energy = np.full(40, 1e6)
    warp = PostConfig(post_id="w", warp=True)
    a, b = postprocess(mfcc, energy, warp), postprocess(squeezed, energy, warp)
    assert np.allclose(a[:, :12], b[:, :12], atol=1e-5)
    assert np.allclose(np.sort(a[:, 0]), np.sort(a[:, 5]), atol=1e-5)  # every static: the same normal quantiles
    assert not np.allclose(postprocess(mfcc, energy)[:, :12], postprocess(squeezed, energy)[:, :12], atol=1e-2)


def test_spectral_subtraction_takes_the_quiet_frames_noise_out_of_the_bands():
    rng = np.random.default_rng(2)
    n_bands, frames = 23, 60
    speech = np.where(np.arange(frames)[:, None] >= 10, rng.uniform(4, 9, (frames, n_bands)), 0.0)  # ln(1 + E)
    noise = rng.uniform(1.0, 3.0, n_bands)  # band power in every frame, the first 10 frames noise alone
    clean_mfcc, noisy_mfcc = mfcc_of(speech, 13), mfcc_of(np.log1p(np.expm1(speech) + noise), 13)
    energy = np.expm1(speech).sum(axis=1) + noise.sum()
    out = subtracted(noisy_mfcc, energy, 1.0, 0.01)
    before = np.abs(noisy_mfcc[10:] - clean_mfcc[10:]).mean()
    assert np.abs(out[10:] - clean_mfcc[10:]).mean() < 0.5 * before
    # Off, and with a floor of 1 (nothing may be taken), the frames are as they came.
    assert np.allclose(postprocess(noisy_mfcc, energy, PostConfig(subtraction=0.0)), postprocess(noisy_mfcc, energy))
    assert np.allclose(subtracted(noisy_mfcc, energy, 1.0, 1.0), noisy_mfcc)


def test_moving_average_keeps_a_ramp_and_cuts_an_alternation_to_a_third():
    ramp = np.outer(np.arange(12.0), [2.0, -1.0])
    assert np.allclose(moving_average(ramp, 3)[1:-1], ramp[1:-1])
    alternating = np.array([[1.0], [-1.0]] * 6)
    assert np.allclose(np.abs(moving_average(alternating, 3)[1:-1]), 1 / 3)
    assert np.array_equal(moving_average(ramp, 1), ramp)
    with pytest.raises(ValueError, match="odd"):
        moving_average(ramp, 4)


def test_smoothing_the_statics_is_off_by_default_and_slows_them_when_on():
    rng = np.random.default_rng(3)
    mfcc = rng.standard_normal((60, 13)) * 4
    energy = np.full(60, 1e6)
    plain = postprocess(mfcc, energy)
    assert np.array_equal(plain, postprocess(mfcc, energy, PostConfig(smooth_frames=1)))
    smooth = postprocess(mfcc, energy, PostConfig(smooth_frames=5))
    assert smooth.shape == plain.shape
    assert _mean_step(smooth) < 0.5 * _mean_step(plain)


def _mean_step(feats: np.ndarray) -> float:
    """Mean frame-to-frame change of the statics (the first 12 columns)."""
    return float(np.abs(np.diff(feats[:, :12], axis=0)).mean())
