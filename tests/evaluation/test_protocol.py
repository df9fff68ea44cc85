from __future__ import annotations

import numpy as np

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.protocol import TEST_TAKES, add_white_noise, make_trials


def test_trials_are_deterministic_and_within_protocol():
    a = make_trials(["b", "a"], 3, 20, seed=4)
    assert a == make_trials(["a", "b"], 3, 20, seed=4)
    assert a != make_trials(["a", "b"], 3, 20, seed=5)
    assert len(a) == 40
    for t in a:
        digits = [d for d, _ in t.segments]
        assert len(set(digits)) == 3
        assert all(take in TEST_TAKES for _, take in t.segments)


def test_noise_has_the_requested_snr_and_is_repeatable():
    x = np.sin(np.arange(8000) / 5.0)
    noisy = add_white_noise(x, 10, "f.wav")
    assert np.array_equal(noisy, add_white_noise(x, 10, "f.wav"))
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert abs(snr - 10) < 0.2


def test_reader_parses_names(tmp_path):
    (tmp_path / "3_alice_12.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    recs = read_fsdd(tmp_path)
    assert [(r.speaker, r.digit, r.take) for r in recs] == [("alice", 3, 12)]
