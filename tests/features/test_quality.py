"""The answer SNR estimate against FSDD answers mixed with white, pink and babble at known SNRs."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from speakerverify.evaluation.noise import mix
from speakerverify.features import extract, read_audio
from speakerverify.features.quality import MAX_SNR_DB, estimate_quality
from support.shared_data import require_fsdd, require_speechocean


@cache
def _answers() -> list[list[np.ndarray]]:
    files = sorted((require_fsdd() / "recordings").glob("*_3[0-4].wav"))
    rng = np.random.default_rng(1)
    return [[read_audio(files[i]) for i in rng.choice(len(files), 5, replace=False)] for _ in range(12)]


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize(("snr", "tolerance"), [(5.0, 3.0), (10.0, 3.0), (20.0, 4.0)])
def test_measured_snr_is_within_a_few_db(kind: str, snr: float, tolerance: float) -> None:
    babble = str(require_speechocean()) if kind == "babble" else None
    est = [
        estimate_quality([extract(mix(x, kind, snr, f"{a}-{i}", babble))[1] for i, x in enumerate(answer)]).snr_db
        for a, answer in enumerate(_answers())
    ]
    assert abs(np.median(est) - snr) <= tolerance, est


def test_noisier_answers_measure_lower_and_silence_is_not_speech() -> None:
    answer = _answers()[0]
    levels = [
        estimate_quality([extract(mix(x, "white", s, str(i)))[1] for i, x in enumerate(answer)]) for s in (20, 10, 5, 0)
    ]
    snrs = [q.snr_db for q in levels]
    assert snrs == sorted(snrs, reverse=True)
    assert all(q.speech_frames > 0 and q.speech_seconds == pytest.approx(q.speech_frames * 0.01) for q in levels)
    assert estimate_quality([np.zeros(40)]).snr_db == 0.0 and estimate_quality([np.zeros(40)]).speech_frames == 0
    assert estimate_quality([]).speech_frames == 0
    # digital silence between words: nothing in the quiet frames, the SNR is capped
    assert estimate_quality([np.r_[np.zeros(10), np.full(30, 1e9)]]).snr_db == MAX_SNR_DB
