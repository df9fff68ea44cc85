"""Noise for evaluation conditions: white, pink and babble, mixed into audio at a given SNR.

Every noise is seeded from a key (e.g. the file name), so a condition is the same on every run and
machine. Babble is several speechocean762 speakers talking at once; that corpus is read from
``../shared`` at run time and never enters the repository.

``HELDOUT_KINDS`` (hum, fan, clatter, music) are synthetic stand-ins for the recorded household noises an
independent check uses: nothing is chosen on them (no tunable, no copy recipe, no threshold). They exist to
report how the choices made on white, pink and babble carry to noise they were not made on, above all
whether FAR stays <= 1%. They share nothing with the copies' construction (inverse DCT, stationary Gamma
noise) or with speechocean762.
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np

from ..features.audio import read_audio

KINDS = ("white", "pink", "babble")
HELDOUT_KINDS = ("hum", "fan", "clatter", "music")
RATE = 8000
"""Samples per second of the audio the noises are mixed into (the feature rate)."""
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
def talker_signals(root: str) -> tuple[np.ndarray, ...]:
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


def babble(
    n: int, rng: np.random.Generator, root: str | Path | None = None, pool: tuple[np.ndarray, ...] | None = None
) -> np.ndarray:
    """Unit-power babble: ``BABBLE_TALKERS`` random speakers of the corpus at ``root`` (or of ``pool``, from
    ``talker_signals``), each from a random offset, summed. (n,)"""
    if pool is None and root is None:
        raise ValueError("babble needs the speechocean762-8k folder or a pool of talkers")
    talkers = pool if pool is not None else talker_signals(str(root))
    chosen = rng.choice(len(talkers), size=min(BABBLE_TALKERS, len(talkers)), replace=False)
    mix = np.zeros(n)
    for i in chosen:
        x = talkers[int(i)]
        reps = int(np.ceil((n + len(x)) / len(x)))
        start = int(rng.integers(len(x)))
        mix += np.tile(x, reps)[start : start + n]
    return mix / np.sqrt(np.mean(mix**2) + 1e-12)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x**2) + 1e-300)


def _shaped(n: int, rng: np.random.Generator, gain: np.ndarray | None = None, slope: float = 0.0) -> np.ndarray:
    """Unit-power Gaussian noise whose amplitude spectrum is ``gain`` (one value per rFFT bin) times
    f^-slope (f in bins, DC held at the first bin's level). (n,)"""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.arange(len(spectrum), dtype=np.float64), 1.0)
    shape = f**-slope if gain is None else gain * f**-slope
    return _unit(np.fft.irfft(spectrum * shape, n))


def _tones(t: np.ndarray, freqs: np.ndarray, amps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sum of sines at ``freqs`` Hz (k,) with ``amps`` (k,) and random phases, at times ``t`` s (n,). (n,)"""
    phase = rng.uniform(0.0, 2 * np.pi, len(freqs))
    return (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phase[:, None])).sum(axis=0)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power mains hum (50 or 60 Hz and its harmonics to 1 kHz) over a motor's brown rumble: a fridge,
    a transformer, an extractor. (n,)"""
    f0 = float(rng.choice([50.0, 60.0])) * (1 + 0.003 * rng.standard_normal())
    k = np.arange(1, int(1000 // f0) + 1, dtype=np.float64)
    tone = _tones(np.arange(n) / RATE, f0 * k, rng.uniform(0.2, 1.0, len(k)) / k**0.7, rng)
    return _unit(_unit(tone) + rng.uniform(0.3, 0.8) * _shaped(n, rng, slope=1.0))


def fan(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power fan or air-conditioner noise: broadband noise with a resonance at 200-900 Hz, a blade-pass
    tone (70-200 Hz, 3 harmonics), slowly amplitude-modulated (1-3 Hz, depth 10-30%). (n,)"""
    f = np.fft.rfftfreq(n, 1 / RATE)
    centre, width = rng.uniform(200.0, 900.0), rng.uniform(100.0, 400.0)
    gain = 0.15 + 1.0 / (1.0 + ((f - centre) / width) ** 2)
    t = np.arange(n) / RATE
    blade = rng.uniform(70.0, 200.0)
    tone = _tones(t, blade * np.arange(1.0, 4.0), np.array([1.0, 0.5, 0.25]), rng)
    x = _shaped(n, rng, gain) + rng.uniform(0.2, 0.6) * _unit(tone)
    depth, rate = rng.uniform(0.1, 0.3), rng.uniform(1.0, 3.0)
    return _unit(x * (1 + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))))


def clatter(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power impulsive noise: dishes, keys, typing. Bursts at 3-8 per second (Poisson), each decaying
    white noise (5-30 ms time constant, log-normal level), first-differenced (bright), over a faint
    floor 25 dB down. (n,)"""
    x = 10 ** (-25 / 20) * rng.standard_normal(n)
    count = rng.poisson(rng.uniform(3.0, 8.0) * n / RATE)
    for start in rng.integers(0, max(n, 1), size=count):
        tau = rng.uniform(0.005, 0.030) * RATE
        m = min(n - int(start), int(6 * tau))
        x[start : start + m] += rng.lognormal(0.0, 0.7) * rng.standard_normal(m) * np.exp(-np.arange(m) / tau)
    return _unit(np.diff(x, prepend=0.0))


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power tonal music: a new 3-note chord every 0.15-0.4 s from a pentatonic scale (110-880 Hz),
    each note with 4 decaying harmonics and a plucked (exponential) envelope. (n,)"""
    scale = 110.0 * 2 ** (np.array([0, 2, 4, 7, 9]) / 12)
    notes = (scale[None, :] * 2.0 ** np.arange(3)[:, None]).ravel()  # 15 notes over 3 octaves
    x, start = np.zeros(n), 0
    while start < n:
        m = min(n - start, int(rng.uniform(0.15, 0.4) * RATE))
        t = np.arange(m) / RATE
        chord = rng.choice(notes, size=3, replace=False)
        k = np.arange(1.0, 5.0)
        freqs = (chord[:, None] * k[None, :]).ravel()
        keep = freqs < RATE / 2
        amps = np.tile(0.6**k, 3)[keep]
        x[start : start + m] = _tones(t, freqs[keep], amps, rng) * np.exp(-t / rng.uniform(0.1, 0.3))
        start += m
    return _unit(x + 1e-3 * rng.standard_normal(n))


_HELDOUT = {"hum": hum, "fan": fan, "clatter": clatter, "music": music}


def mix(
    samples: np.ndarray,
    kind: str,
    snr_db: float,
    key: str,
    babble_root: str | Path | None = None,
    babble_pool: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """``samples`` with ``kind`` noise added at ``snr_db`` relative to the signal's mean power. (n,)

    ``babble_root`` is the speechocean762-8k folder, needed only for ``kind="babble"``; ``babble_pool``
    (some of its ``talker_signals``) draws the talkers from those alone.
    """
    n = len(samples)
    rng = _rng(kind, key)
    if kind == "white":
        noise = white(n, rng)
    elif kind == "pink":
        noise = pink(n, rng)
    elif kind == "babble":
        if babble_root is None and babble_pool is None:
            raise ValueError("babble noise needs the speechocean762-8k folder (babble_root)")
        noise = babble(n, rng, babble_root, pool=babble_pool)
    elif kind in _HELDOUT:
        noise = _HELDOUT[kind](n, rng)
    else:
        raise ValueError(f"unknown noise {kind!r}; expected one of {', '.join(KINDS + HELDOUT_KINDS)}")
    power = float(np.mean(np.asarray(samples, dtype=np.float64) ** 2))
    noise = noise / np.sqrt(np.mean(noise**2) + 1e-300)  # exactly unit power over this signal's length
    return samples + noise * np.sqrt(power / 10 ** (snr_db / 10))
