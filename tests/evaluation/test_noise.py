"""The evaluation noises: seeded, at the SNR asked for, and with the spectra their names promise."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation import noise
from support.shared_data import require_speechocean


def _snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)))


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0])
def test_mix_hits_the_snr_and_is_seeded(kind: str, snr: float) -> None:
    x = np.sin(np.arange(16000) * 0.05) * 0.3
    y = noise.mix(x, kind, snr, "take.wav")
    assert _snr(x, y) == pytest.approx(snr, abs=0.01)
    assert np.array_equal(y, noise.mix(x, kind, snr, "take.wav"))
    assert not np.array_equal(y, noise.mix(x, kind, snr, "other.wav"))


def test_pink_has_more_low_than_high_frequency_power_and_white_does_not() -> None:
    rng = np.random.default_rng(0)

    def low_over_high(x: np.ndarray) -> float:
        p = np.abs(np.fft.rfft(x)) ** 2
        return float(p[10:200].mean() / p[-2000:].mean())

    assert low_over_high(noise.pink(2**15, rng)) > 10.0
    assert low_over_high(noise.white(2**15, rng)) == pytest.approx(1.0, rel=0.3)


def test_babble_is_several_real_talkers_at_the_snr() -> None:
    root = require_speechocean()
    x = np.sin(np.arange(16000) * 0.05) * 0.3
    y = noise.mix(x, "babble", 10.0, "take.wav", babble_root=root)
    assert _snr(x, y) == pytest.approx(10.0, abs=0.01)
    b = y - x  # speech-like: its short-time power varies far more than white noise's does
    frames = (b[: 16000 // 200 * 200].reshape(-1, 200) ** 2).mean(axis=1)
    w = noise.white(16000, np.random.default_rng(1))
    wf = (w[: 16000 // 200 * 200].reshape(-1, 200) ** 2).mean(axis=1)
    assert frames.std() / frames.mean() > 2 * wf.std() / wf.mean()


def test_unknown_noise_and_babble_without_corpus_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown noise"):
        noise.mix(np.ones(10), "brown", 10.0, "k")
    with pytest.raises(ValueError, match="speechocean762"):
        noise.mix(np.ones(10), "babble", 10.0, "k")
