from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speakerverify.features import AudioError, read_audio


def _write(path, data, rate, **kw):
    sf.write(str(path), data, rate, **kw)
    return path


def test_stereo_mixdown_and_resample(tmp_path):
    t = np.arange(16000) / 16000
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = _write(tmp_path / "a.wav", np.stack([left, left], axis=1), 16000)
    x = read_audio(path)
    assert len(x) == 8000
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spectrum) * 8000 / len(x) - 440) < 2


def test_flac_reads(tmp_path):
    path = _write(tmp_path / "a.flac", 0.1 * np.ones(4000), 8000)
    assert len(read_audio(path)) == 4000


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"RIFF\x00\x00garbage"), "cannot read"),
        (lambda p: _write(p, np.zeros(8000), 8000), "silent"),
        (lambda p: _write(p, 0.1 * np.ones(100), 8000), "too short"),
        (lambda p: _write(p, np.zeros((0,)), 8000), "no samples"),
    ],
    ids=["corrupt", "silent", "short", "empty"],
)
def test_bad_input_names_file_and_problem(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as err:
        read_audio(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="cannot read"):
        read_audio(tmp_path / "nope.wav")
