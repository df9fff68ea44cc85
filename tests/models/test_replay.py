"""Replay templates (models/replay.py): copies, noised copies and splices are caught, different takes are not."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from speakerverify.features import extract, read_audio
from speakerverify.models import replay

FSDD_RECORDINGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fsdd" / "recordings"


@pytest.fixture
def corpus(request: pytest.FixtureRequest) -> Path:
    """FSDD recordings; skipped when absent, except under CI=true where a missing corpus is a failure."""
    if not FSDD_RECORDINGS.is_dir() and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"FSDD not found at {FSDD_RECORDINGS}: CI must provide the shared data folder")
    return Path(request.getfixturevalue("fsdd")) / "recordings"


def _utterance(rng: np.random.Generator, n: int = 45) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic Meyda-like frames: slow random cepstral trajectories (speech moves at a few Hz) and a
    speech-shaped energy contour, so the test does not depend on a corpus."""
    t = np.linspace(0, 1, n)[:, None]
    freqs = rng.uniform(0.5, 3.0, (1, 13))
    mfcc = rng.normal(0, 15, (1, 13)) * np.sin(2 * np.pi * freqs * t + rng.uniform(0, 6, (1, 13)))
    mfcc += rng.normal(0, 2, (1, 13))
    energy = 1e6 * np.exp(-((t[:, 0] - 0.5) ** 2) / 0.08)
    return mfcc, energy


def test_template_shape_dtype_and_validation() -> None:
    m, e = _utterance(np.random.default_rng(0))
    tpl = replay.template(m, e)
    assert tpl.dtype == replay.TEMPLATE_DTYPE and tpl.shape[1] == replay.COEFFS
    assert replay.HEADER_ROWS < len(tpl) <= replay.HEADER_ROWS + len(m)
    assert np.all(tpl[: replay.HEADER_ROWS] >= 0)
    with pytest.raises(ValueError):
        replay.template(m[:, :5], e)
    with pytest.raises(ValueError):
        replay.template(m, e[:-1])
    bad = m.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError):
        replay.template(bad, e)
    with pytest.raises(ValueError):
        replay.replay_distance(tpl[:, :5], tpl)
    # crafted huge values are clipped to float16's range instead of becoming inf
    assert np.all(np.isfinite(replay.template(m * 1e9, e)))


def test_encode_decode_round_trip_and_malformed_blobs() -> None:
    rng = np.random.default_rng(1)
    tpls = [replay.template(*_utterance(rng, n)) for n in (20, 45, 80)]
    blobs = [replay.encode(t) for t in tpls]
    assert len(blobs[1]) == 1 + len(tpls[1]) * replay.COEFFS * 2
    for t, b, d in zip(tpls, blobs, replay.decode_many(blobs), strict=True):
        np.testing.assert_array_equal(replay.decode(b), t)
        np.testing.assert_array_equal(d, t)
    with pytest.raises(ValueError):
        replay.decode(blobs[0][:-1])
    with pytest.raises(ValueError):
        replay.decode(b"\x01" + blobs[0][1:])  # another version
    inf_blob = bytes([blobs[0][0]]) + np.full((4, replay.COEFFS), np.inf, dtype="<f2").tobytes()
    with pytest.raises(ValueError):
        replay.decode(inf_blob)
    with pytest.raises(ValueError):
        replay.decode_many([blobs[0], inf_blob])


def test_copy_noised_copy_and_other_utterance() -> None:
    rng = np.random.default_rng(2)
    m, e = _utterance(rng)
    tpl = replay.template(m, e)
    assert replay.replay_distance(tpl, tpl) == 0.0
    noised = replay.template(m + rng.normal(0, 0.75 * m.std(axis=0), m.shape), e)
    assert replay.replay_distance(noised, tpl) < replay.REPLAY_THRESHOLD
    offset = replay.template(m + rng.normal(0, 0.5 * m.std(axis=0)), e)  # a constant added to every frame
    assert replay.replay_distance(offset, tpl) < replay.REPLAY_THRESHOLD
    other = replay.template(*_utterance(np.random.default_rng(99)))
    assert replay.replay_distance(other, tpl) > 1.5 * replay.REPLAY_THRESHOLD  # at most 1: CELL_CAP


def test_nearest_many_matches_pairwise_and_respects_digits() -> None:
    rng = np.random.default_rng(3)
    stored = [replay.template(*_utterance(rng, int(n))) for n in rng.integers(20, 60, 12)]
    stored_digits = np.arange(12) % 4
    segments = [stored[5], replay.template(*_utterance(rng)), stored[2]]
    digits = np.array([1, 0, 3])  # stored[5] is a 1; stored[2] is a 2, answered as a 3
    got = replay.nearest_many(segments, stored, digits, stored_digits)
    for s, q in enumerate(segments):
        same = [t for t, d in zip(stored, stored_digits, strict=True) if d == digits[s]]
        assert got[s] == pytest.approx(min(replay.replay_distance(q, t) for t in same), abs=1e-6)
    assert got[0] == 0.0 and got[2] > replay.REPLAY_THRESHOLD
    assert np.isinf(replay.nearest_many(segments[:1], stored, [7], stored_digits))[0]
    assert np.isinf(replay.nearest_many(segments[:1], [], [1], np.zeros(0, int)))[0]
    with pytest.raises(ValueError):
        replay.nearest_many(segments, stored, digits[:2], stored_digits)


def _take(recordings: Path, digit: int, speaker: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    return extract(read_audio(recordings / f"{digit}_{speaker}_{n}.wav"))


@pytest.mark.parametrize(("speaker", "digit"), [("jackson", 3), ("theo", 7), ("yweweler", 0)])
def test_fsdd_replays_caught_and_other_takes_not(corpus: Path, speaker: str, digit: int) -> None:
    rng = np.random.default_rng(digit)
    feats = [_take(corpus, digit, speaker, n) for n in range(30, 40)]
    stored = [replay.template(*f) for f in feats]
    m, e = feats[0]
    assert replay.replay_distance(stored[0], stored[0]) == 0.0
    noised = replay.template(m + rng.normal(0, 0.75 * m.std(axis=0), m.shape), e)
    assert replay.replay_distance(noised, stored[0]) < replay.REPLAY_THRESHOLD
    pieces = [f[0][round(i * len(f[0]) / 3) : round((i + 1) * len(f[0]) / 3)] for i, f in enumerate(feats[:3])]
    energy = [f[1][round(i * len(f[1]) / 3) : round((i + 1) * len(f[1]) / 3)] for i, f in enumerate(feats[:3])]
    spliced = replay.template(np.vstack(pieces), np.concatenate(energy))
    digits = [digit] * len(stored)
    assert replay.nearest_many([spliced], stored, [digit], digits)[0] < replay.REPLAY_THRESHOLD
    # a fresh take of the same speaker and digit against the nine others: not a replay
    fresh = replay.nearest_many(stored[:1], stored[1:], [digit], digits[1:])[0]
    assert fresh > replay.REPLAY_THRESHOLD


def test_bounded_distances_same_decisions_as_exact(corpus: Path) -> None:
    """``exact_below``: the alignment is skipped for templates whose lower bound clears the threshold. Every
    distance below it stays exact, every other is still at least it (so the same replay decisions) and never
    above the exact distance (it is a lower bound), on fresh takes, copies, noised copies, splices and
    time-stretched copies of real takes."""
    rng = np.random.default_rng(7)
    threshold = replay.REPLAY_THRESHOLD
    for digit in (2, 5):
        feats = [_take(corpus, digit, spk, n) for spk in ("jackson", "george") for n in range(6, 14)]
        stored = [replay.template(*f) for f in feats[::2]]
        queries = [replay.template(*f) for f in feats[1::2]]  # fresh takes
        for m, e in feats[::4]:
            queries.append(replay.template(m, e))  # a copy
            queries.append(replay.template(m + rng.normal(0, 0.75 * m.std(axis=0), m.shape), e))
            stretch = np.repeat(np.arange(len(m)), rng.integers(1, 3, len(m)))  # frames duplicated at random
            queries.append(replay.template(m[stretch], e[stretch]))
        a, b = feats[0], feats[2]
        half_a, half_b = len(a[0]) // 2, len(b[0]) // 2
        queries.append(
            replay.template(np.vstack([a[0][:half_a], b[0][half_b:]]), np.concatenate([a[1][:half_a], b[1][half_b:]]))
        )
        digits, stored_digits = [digit] * len(queries), [digit] * len(stored)
        exact = np.array([replay.nearest_many([q], stored, [digit], stored_digits)[0] for q in queries])
        bounded = replay.nearest_many(queries, stored, digits, stored_digits, exact_below=threshold)
        assert (exact < threshold).sum() >= 5 and (exact >= threshold).sum() >= 5  # both kinds are present
        np.testing.assert_array_equal(bounded < threshold, exact < threshold)
        np.testing.assert_allclose(bounded[exact < threshold], exact[exact < threshold], atol=1e-6)
        assert np.all(bounded <= exact + 1e-5)
        for q in queries[:3]:  # per template, too: a bound never exceeds the exact distance
            bank = replay._Bank(stored)
            np.testing.assert_array_less(replay._distances(q, bank, threshold), replay._distances(q, bank) + 1e-5)
