"""Noise for evaluation conditions: white, pink and babble, mixed into audio at a given SNR.

Every noise is seeded from a key (e.g. the file name), so a condition is the same on every run and
machine. Babble is several speechocean762 speakers talking at once; that corpus is read from
``../shared`` at run time and never enters the repository.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np

from ..features.audio import read_audio

KINDS = ("white", "pink", "babble")
BABBLE_TALKERS = 6
"""Talkers summed for babble: few enough that it stays speech-like, enough that no one voice dominates."""


def _rng(kind: str, key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{kind}:{key}".encode()))


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power white Gaussian noise. (n,)"""
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise with a 1/f power spectrum (white noise shaped in the frequency domain). (n,)"""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0  # DC kept at the first bin's level rather than infinite
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return noise / np.sqrt(np.mean(noise**2))


@functools.lru_cache(maxsize=4)
def _talkers(root: str) -> tuple[np.ndarray, ...]:
    """One long signal per speechocean762 speaker (their utterances joined), unit power, 8 kHz."""
    files = sorted(Path(root, "wav").glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no speechocean762 WAV files under {Path(root, 'wav')}")
    by_speaker: dict[str, list[np.ndarray]] = {}
    for f in files:
        samples = read_audio(f)  # at the feature rate (8 kHz)
        by_speaker.setdefault(f.name.split("_")[0], []).append(samples.astype(np.float64))
    out = []
    for parts in by_speaker.values():
        x = np.concatenate(parts)
        out.append(x / np.sqrt(np.mean(x**2) + 1e-12))
    return tuple(out)


def babble(n: int, rng: np.random.Generator, root: str | Path) -> np.ndarray:
    """Unit-power babble: ``BABBLE_TALKERS`` random speakers, each from a random offset, summed. (n,)"""
    talkers = _talkers(str(root))
    chosen = rng.choice(len(talkers), size=min(BABBLE_TALKERS, len(talkers)), replace=False)
    mix = np.zeros(n)
    for i in chosen:
        x = talkers[int(i)]
        reps = int(np.ceil((n + len(x)) / len(x)))
        start = int(rng.integers(len(x)))
        mix += np.tile(x, reps)[start : start + n]
    return mix / np.sqrt(np.mean(mix**2) + 1e-12)


def mix(samples: np.ndarray, kind: str, snr_db: float, key: str, babble_root: str | Path | None = None) -> np.ndarray:
    """``samples`` with ``kind`` noise added at ``snr_db`` relative to the signal's mean power. (n,)

    ``babble_root`` is the speechocean762-8k folder, needed only for ``kind="babble"``.
    """
    n = len(samples)
    rng = _rng(kind, key)
    if kind == "white":
        noise = white(n, rng)
    elif kind == "pink":
        noise = pink(n, rng)
    elif kind == "babble":
        if babble_root is None:
            raise ValueError("babble noise needs the speechocean762-8k folder (babble_root)")
        noise = babble(n, rng, babble_root)
    else:
        raise ValueError(f"unknown noise {kind!r}; expected one of {', '.join(KINDS)}")
    power = float(np.mean(np.asarray(samples, dtype=np.float64) ** 2))
    noise = noise / np.sqrt(np.mean(noise**2) + 1e-300)  # exactly unit power over this signal's length
    return samples + noise * np.sqrt(power / 10 ** (snr_db / 10))
