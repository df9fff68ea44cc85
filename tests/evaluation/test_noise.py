"""The evaluation noises: seeded, at the SNR asked for, and with the spectra their names promise."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation import noise
from support.shared_data import require_speechocean


def _snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)))


@pytest.mark.parametrize("kind", ["white", "pink", *noise.HELDOUT_KINDS])
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


def _frame_power_spread(x: np.ndarray, frame: int = 200) -> float:
    p = (x[: len(x) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1)
    return float(p.std() / p.mean())


def _power_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.fft.rfftfreq(len(x), 1 / noise.RATE), np.abs(np.fft.rfft(x)) ** 2


def test_hum_is_mains_harmonics_below_one_kilohertz() -> None:
    f, p = _power_spectrum(noise.hum(2**15, np.random.default_rng(3)))
    peak = f[np.argmax(p[f > 30]) + np.count_nonzero(f <= 30)]
    assert min(abs(peak / 50 - round(peak / 50)), abs(peak / 60 - round(peak / 60))) < 0.05
    assert p[f < 1000].sum() > 5 * p[f >= 1000].sum()


def test_clatter_is_impulsive_and_fan_and_hum_are_steady_like_pink() -> None:
    pink = _frame_power_spread(noise.pink(16000, np.random.default_rng(1)))
    assert _frame_power_spread(noise.clatter(16000, np.random.default_rng(2))) > 4 * pink
    for steady in (noise.fan, noise.hum):
        assert _frame_power_spread(steady(16000, np.random.default_rng(2))) < 1.5 * pink


def test_music_is_tonal_and_fan_is_not() -> None:
    def peakiness(x: np.ndarray) -> float:  # strongest bin over the median bin, 50-2000 Hz
        f, p = _power_spectrum(x)
        band = p[(f > 50) & (f < 2000)]
        return float(band.max() / np.median(band))

    assert peakiness(noise.music(2**14, np.random.default_rng(4))) > 20 * peakiness(
        noise.white(2**14, np.random.default_rng(4))
    )
    assert peakiness(noise.fan(2**14, np.random.default_rng(4))) < peakiness(noise.hum(2**14, np.random.default_rng(4)))
