"""The babble model behind the babble copies: what it draws is what it was estimated from, and a babble
copy moves a take towards the same take really mixed with babble."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation.noise import mix
from speakerverify.features import extract, read_audio
from speakerverify.features.cepstra import log_mel
from speakerverify.models import babble
from speakerverify.models.noisy_copies import CopyCondition, noisy_copy
from support.shared_data import require_fsdd, require_speechocean


def test_a_long_draw_estimates_back_to_the_shipped_model() -> None:
    model = babble.shipped_model()
    bands, energy = babble.draw(model, 40_000, np.random.default_rng(0))
    assert bands.shape == (40_000, len(model.mean)) and energy.mean() == pytest.approx(1.0)
    again = babble.estimate(np.log1p(bands / bands.mean() * np.expm1(model.mean).mean()), energy)
    # what babble has and stationary noise does not: frames that follow each other closely (10 ms)
    assert np.allclose(again.rho, model.rho, atol=0.05)
    assert np.all(model.rho > 0.7)
    spread = np.diag(model.stationary_chol @ model.stationary_chol.T)
    redrawn = np.diag(again.stationary_chol @ again.stationary_chol.T)
    assert np.allclose(redrawn, spread, rtol=0.25)


def _frame_correlation(mfcc: np.ndarray, frames: np.ndarray) -> float:
    """Mean over mel bands of the 10 ms (lag-1) correlation of ``frames``' log-mel."""
    z = log_mel(mfcc)[frames]
    z = z - z.mean(axis=0)
    return float(np.mean((z[1:] * z[:-1]).mean(axis=0) / (z.var(axis=0) + 1e-12)))


def test_a_babble_copy_moves_from_frame_to_frame_as_real_babble_does() -> None:
    root = require_speechocean()
    x = read_audio(require_fsdd() / "recordings" / "5_nicolas_12.wav")
    x = np.concatenate([np.zeros(2400), x, np.zeros(2400)])  # 0.3 s of silence either side: noise alone
    clean_mfcc, clean_energy = extract(x)
    alone = clean_energy <= np.quantile(clean_energy, 0.4)
    real_mfcc, _ = extract(mix(x, "babble", 10.0, "k", babble_root=root))
    rng = np.random.default_rng(0)
    copy_mfcc, copy_energy = noisy_copy(clean_mfcc, clean_energy, CopyCondition("babble", 10.0), rng)
    shaped_mfcc, _ = noisy_copy(clean_mfcc, clean_energy, CopyCondition("speech", 10.0), rng)
    real = _frame_correlation(real_mfcc, alone)  # measured 0.86
    assert real > 0.6
    assert _frame_correlation(copy_mfcc, alone) == pytest.approx(real, abs=0.1)  # measured 0.83
    assert _frame_correlation(shaped_mfcc, alone) < 0.2  # stationary noise: each frame drawn afresh (0.01)
    added = np.mean(copy_energy - clean_energy)
    assert added == pytest.approx(np.mean(clean_energy) / 10, rel=0.1)
