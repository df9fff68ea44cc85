"""The numpy extractor against the real Meyda 5 running in Node, on real speech frames."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speakerverify.features import DEFAULT_CONFIG, read_audio
from speakerverify.features.config import LEGACY_SCALE_CONFIG
from speakerverify.features.meyda import extract_frames, frame_signal

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="module")
def meyda_runner() -> Path:
    node = shutil.which("node")
    assert node, "node is required for the Meyda parity test (the test set-up installs it)"
    if not (NODE_DIR / "node_modules" / "meyda").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return NODE_DIR / "meyda_extract.mjs"


def run_meyda(script: Path, config, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = subprocess.run(
        ["node", str(script)],
        input=json.dumps({"config": config.to_dict(), "frames": frames.tolist()}),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    return np.array(result["mfcc"]), np.array(result["energy"])


@pytest.mark.parametrize("config", [DEFAULT_CONFIG, LEGACY_SCALE_CONFIG], ids=lambda c: c.config_id)
def test_matches_meyda_on_speech(fsdd, meyda_runner, config):
    names = ["7_jackson_32", "3_theo_10", "0_george_5", "9_yweweler_40", "5_lucas_12", "1_nicolas_3"]
    x = np.concatenate([read_audio(fsdd / "recordings" / f"{n}.wav") for n in names])
    frames = frame_signal(x * config.input_scale, config.frame_size, config.hop_size)
    assert len(frames) > 200
    js_mfcc, js_energy = run_meyda(meyda_runner, config, frames)
    mfcc, energy = extract_frames(frames, config)
    assert mfcc.shape == js_mfcc.shape == (len(frames), 13)
    coeff_range = mfcc.max(axis=0) - mfcc.min(axis=0)
    assert np.all(np.abs(mfcc - js_mfcc).max(axis=0) <= 1e-4 * coeff_range)
    assert np.abs(energy - js_energy).max() <= 1e-4 * energy.max()


def test_scale_makes_log_mel_logarithmic(fsdd):
    """The issue's measurement: median ln(1+E) is ~0.02 at float scale and ~16.9 at int16 scale."""
    from speakerverify.features.meyda import hamming_window, mel_filterbank

    x = read_audio(fsdd / "recordings" / "7_jackson_32.wav")
    medians = []
    for scale in (1.0, 32768.0):
        frames = frame_signal(x * scale, 256, 80) * hamming_window(256)
        power = np.abs(np.fft.rfft(frames, axis=1))[:, :128] ** 2
        medians.append(np.median(np.log1p(power @ mel_filterbank(23, 8000, 256).T)))
    assert medians[0] == pytest.approx(0.02, abs=0.005)
    assert medians[1] == pytest.approx(16.9, abs=0.1)
