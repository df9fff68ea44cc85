"""Noisy copies built from the MFCCs: deterministic, close to real noisy audio, exactly removable."""

from __future__ import annotations

import numpy as np
import pytest

from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_POST, extract, postprocess, read_audio
from speakerverify.models.noisy_copies import (
    DEFAULT_RECIPE,
    NO_COPIES,
    STATIONARY_RECIPE,
    CopyCondition,
    log_mel,
    mfcc_of,
    noisy_copies,
    noisy_copy,
    shared_frame_sets,
    take_stats,
)
from speakerverify.models.speaker import SpeakerModel, utterance_stats
from speakerverify.models.ubm import load_default_ubm
from support.fsdd import take
from support.shared_data import require_fsdd


def test_the_log_mel_inverse_gives_back_the_mfccs() -> None:
    mfcc, _ = take("jackson", 3, 7)
    # min-norm inverse of a 13 x 23 full-rank DCT: exact wherever no band had to be clipped at 0
    assert np.allclose(mfcc_of(log_mel(mfcc), 13), mfcc, atol=1e-6 * np.abs(mfcc).max())


def test_copies_are_deterministic_in_the_take_and_differ_between_takes() -> None:
    mfcc, energy = take("jackson", 3, 7)
    first = noisy_copies(mfcc, energy)
    again = noisy_copies(mfcc.astype(np.float32), energy.astype(np.float32))  # as stored: the same seed
    assert len(first) == len(DEFAULT_RECIPE.conditions)
    for (m1, e1), (m2, e2) in zip(first, again, strict=True):
        assert np.allclose(m1, m2, atol=1e-3) and np.allclose(e1, e2, rtol=1e-5)
    other = noisy_copies(*take("jackson", 3, 8))
    assert not np.allclose(first[0][0][:5], other[0][0][:5])
    assert noisy_copies(mfcc, energy, NO_COPIES) == []


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_a_copy_is_close_to_the_take_really_mixed_with_that_noise(kind: str) -> None:
    path = require_fsdd() / "recordings" / "5_nicolas_12.wav"
    x = read_audio(path)
    clean_mfcc, clean_energy = extract(x)
    real_mfcc, real_energy = extract(mix(x, kind, 10.0, "k"))
    copy_mfcc, copy_energy = noisy_copy(clean_mfcc, clean_energy, CopyCondition(kind, 10.0), np.random.default_rng(0))
    moved = np.sqrt(np.mean((real_mfcc - clean_mfcc) ** 2))
    # the copy lands far nearer the real noisy frames than the clean take is (pink less so: its 1/k shape
    # per 256-sample frame only approximates the long-term 1/f of evaluation.noise.pink)
    assert np.sqrt(np.mean((real_mfcc - copy_mfcc) ** 2)) < (0.25 if kind == "white" else 0.45) * moved
    # the added frame energy is the noise's: mean(energy) / 10^(SNR / 10)
    added = np.mean(copy_energy - clean_energy)
    assert added == pytest.approx(np.mean(clean_energy) / 10, rel=0.1)
    assert np.mean(real_energy - clean_energy) == pytest.approx(added, rel=0.25)


def test_take_stats_add_the_copies_and_removing_them_restores_the_model_exactly() -> None:
    ubm = load_default_ubm().gmm
    mfcc, energy = take("theo", 4, 2)
    own = utterance_stats(ubm, postprocess(mfcc.astype(np.float32), energy.astype(np.float32)))
    with_copies = take_stats(ubm, mfcc, energy)
    assert with_copies.n.sum() > own.n.sum() * 1.5  # 4 copies at weight 0.5, each with at least its frames
    assert np.allclose(take_stats(ubm, mfcc, energy, recipe=NO_COPIES).n, own.n)
    base = SpeakerModel.empty(ubm.n_components, ubm.dim).add(4, take_stats(ubm, *take("theo", 4, 3)))
    added = base.add(4, take_stats(ubm, mfcc, energy))
    # delete recomputes the statistics from the stored float32 take: it must subtract exactly what was added
    removed = added.remove(4, take_stats(ubm, mfcc.astype(np.float32), energy.astype(np.float32)))
    assert np.allclose(removed.n, base.n, atol=1e-9) and np.allclose(removed.f, base.f, atol=1e-8)


def test_recipes_drawn_together_get_the_copies_each_draws_alone() -> None:
    """Two recipes' copies drawn at once share the copies their conditions begin with, and each recipe gets
    exactly the copies ``noisy_copies`` draws for it alone, with its weights."""
    mfcc, energy = (a.astype(np.float32).astype(np.float64) for a in take("nicolas", 6, 2))
    sets, weights = shared_frame_sets(mfcc, energy, DEFAULT_POST, (DEFAULT_RECIPE, STATIONARY_RECIPE))
    shared = sum(a == b for a, b in zip(DEFAULT_RECIPE.conditions, STATIONARY_RECIPE.conditions, strict=False))
    assert shared == 3 and len(sets) == 1 + len(DEFAULT_RECIPE.conditions) + len(STATIONARY_RECIPE.conditions) - 3
    for row, recipe in zip(weights, (DEFAULT_RECIPE, STATIONARY_RECIPE), strict=True):
        held = [s for s, w in zip(sets, row, strict=True) if w > 0]
        alone = [postprocess(mfcc, energy, DEFAULT_POST)] + [
            postprocess(m, e, DEFAULT_POST) for m, e in noisy_copies(mfcc, energy, recipe)
        ]
        assert len(held) == len(alone) and all(np.array_equal(a, b) for a, b in zip(held, alone, strict=True))
        assert sorted(row[row > 0]) == sorted([1.0] + [recipe.weight] * len(recipe.conditions))
