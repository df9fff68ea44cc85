"""The extractor's formulas checked independently of Meyda."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import get_window

from speakerverify.features import DEFAULT_CONFIG, extract
from speakerverify.features.meyda import frame_signal, hamming_window, mel_filterbank


def test_window_is_periodic_hamming():
    assert np.allclose(hamming_window(256), get_window("hamming", 256), atol=1e-7)
    assert not np.allclose(hamming_window(256), np.hamming(256), atol=1e-4)


def test_framing_full_frames_only():
    x = np.arange(1000.0)
    frames = frame_signal(x, 256, 80)
    assert frames.shape == (1 + (1000 - 256) // 80, 256)
    assert frames[3, 0] == 240 and frames[3, -1] == 240 + 255
    assert frame_signal(np.zeros(255), 256, 80).shape == (0, 256)


def _mel(f):
    return 1125 * np.log(1 + f / 700)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_pure_tone_lands_in_its_mel_band(freq):
    sr = DEFAULT_CONFIG.sample_rate
    t = np.arange(sr) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    bank = mel_filterbank(23, sr, 256)
    frames = frame_signal(x * 32768, 256, 80) * hamming_window(256)
    power = np.abs(np.fft.rfft(frames, axis=1))[:, :128] ** 2
    band_energy = (power @ bank.T).mean(axis=0)
    # Band centres are equally spaced in mel: centre j sits at (j + 1) * step.
    step = _mel(sr / 2) / 24
    expected = int(np.argmin(np.abs((np.arange(23) + 1) * step - _mel(freq))))
    assert abs(int(np.argmax(band_energy)) - expected) <= 1


def test_mfcc_is_unnormalised_dct_of_log_mel_and_energy_is_windowed():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2000) * 0.1
    mfcc, energy = extract(x)
    frames = frame_signal(x * 32768, 256, 80) * get_window("hamming", 256)
    power = np.abs(np.fft.fft(frames, axis=1))[:, :128] ** 2
    log_mel = np.log(1 + power @ mel_filterbank(23, 8000, 256).T)
    n = np.arange(23)
    basis = np.cos(np.pi / 23 * (n[None, :] + 0.5) * np.arange(13)[:, None])
    assert np.allclose(mfcc, 2 * log_mel @ basis.T, rtol=1e-5, atol=1e-3)
    assert np.allclose(energy, np.sum(frames**2, axis=1), rtol=1e-6)


def test_filterbank_peaks_are_one_and_bins_follow_meyda_formula():
    bank = mel_filterbank(23, 8000, 256)
    assert bank.shape == (23, 128)
    assert np.all(bank.max(axis=1) <= 1.0) and np.all(bank >= 0)
    edges_hz = 700 * (np.exp(np.arange(25) * _mel(4000) / 24 / 1125) - 1)
    bins = np.floor(257 * edges_hz / 8000).astype(int)
    for j in range(23):
        if bins[j + 1] > bins[j]:
            assert bank[j, bins[j + 1]] == 1.0
            assert bank[j, bins[j]] == 0.0
