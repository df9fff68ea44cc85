"""Noisy copies of an enrolment take, built on the server from its raw Meyda MFCC + energy alone.

The server never sees audio, but Meyda's 13 MFCCs are a truncated DCT-II of the 23 log-mel energies, so
the log-mel energies can be approximated back (minimum-norm inverse of that DCT), noise added in the
linear mel domain, and the MFCCs recomputed. A speaker model that includes such copies has seen its
owner's voice in noise, which is what makes noisy answers score like the owner (BENCHMARKS.md "Noise").

Noise model, per frame (T frames, 128 FFT bins, 23 mel bands):

* the noise's expected windowed frame energy is ``mean(energy) / 10^(SNR/10)``: the SNR is relative to
  the take's mean power, as ``evaluation.noise.mix`` defines it;
* its expected power per FFT bin follows the noise's spectral shape (flat for white, 1/k for pink), scaled
  so the bins average that energy (for Gaussian noise E|X_k|^2 equals the windowed energy);
* each band's noise is the filterbank-weighted sum of bin powers, drawn from a Gamma whose shape is the
  band's effective number of bins (each bin's power is exponential, so the sum is close to a Gamma);
* log-mel ``L' = ln(exp(L) + noise)`` (Meyda's ``ln(1 + E)``: ``exp(L) = 1 + E``), ``c' = 2 C L'``,
  and ``energy' = energy + noise energy``.

Babble is not stationary: its band powers change from frame to frame with speech's slow envelope. A
``babble`` copy adds band powers drawn frame by frame from the shipped babble model (``models.babble``),
scaled so their frame energies average that expected energy.

Copies are seeded from the take's own content at the wire's precision (float16 MFCCs and ln(1+energy)), so
the same take always gets the same copies, whichever body form carried it: deleting a take subtracts
exactly the statistics its enrolment added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..features.cepstra import log_mel, mfcc_of
from ..features.config import DEFAULT_CONFIG, FeatureConfig
from ..features.meyda import mel_filterbank
from ..features.postprocess import DEFAULT_POST, PostConfig, postprocess
from . import babble
from .gmm import DiagGMM
from .speaker import Stats, utterance_stats

DEGRADED_KINDS = ("white", "pink", "speech")
"""The kinds the cohort is degraded with for calibration (``degraded_levels``). ``speech``: speech-shaped
stationary noise (a television), its spectrum the take's own long-term mel spectrum."""
KINDS = (*DEGRADED_KINDS, "babble")
"""``babble``: band powers drawn frame by frame from the shipped babble model (``models.babble``)."""


@dataclass(frozen=True)
class CopyCondition:
    """One noisy copy: noise ``kind`` (``KINDS``) at ``snr_db`` relative to the take's mean power."""

    kind: str
    snr_db: float


@dataclass(frozen=True)
class CopyRecipe:
    """Which copies a take gets and the weight of their statistics (1 = as much as the take itself).

    ``copies_id`` is stored with every model built with the recipe, so models with different copies
    (or none) are never mixed: a changed id makes stored models rebuild from their takes.
    """

    copies_id: str
    conditions: tuple[CopyCondition, ...]
    weight: float = 1.0


NO_COPIES = CopyRecipe("none", ())
# Chosen on the development takes (benchmarks/tune_noise.py, BENCHMARKS.md "Noise"). The enrolment content
# check's digit models are built with these (``CONTENT_RECIPE``), and so is the shipped noise model
# (models.noise_signature): its signature measures stationary noise.
STATIONARY_RECIPE = CopyRecipe(
    "nc-p20-w15-p10-s15-h-v1",
    (
        CopyCondition("pink", 20.0),
        CopyCondition("white", 15.0),
        CopyCondition("pink", 10.0),
        CopyCondition("speech", 15.0),
    ),
    weight=0.5,
)
# The voice models' copies: the speech-shaped copy replaced by two babble copies (benchmarks/babble_copies.py,
# BENCHMARKS.md "Noise: babble copies"). Babble and other non-stationary noise gain 10-15 points of FRR;
# adding them instead raised the clean point (babble is other people's speech) and cost white noise.
DEFAULT_RECIPE = CopyRecipe(
    "nc-p20-w15-p10-b15-b8-h-v1",
    (
        *(c for c in STATIONARY_RECIPE.conditions if c.kind != "speech"),
        CopyCondition("babble", 15.0),
        CopyCondition("babble", 8.0),
    ),
    weight=0.5,
)
# The digit models of the enrolment content check (``app.enrolment``): babble copies blur one digit into
# another (other people's digits), so with them the check missed wrong takes it caught before
# (BENCHMARKS.md "Noise: babble copies"); verification scores and checks content on the voice models.
CONTENT_RECIPE = STATIONARY_RECIPE


@lru_cache(maxsize=8)
def noise_bands(kind: str, config: FeatureConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray, float]:
    """For unit expected windowed frame energy of ``kind`` noise: each band's expected power (N,), each
    band's effective number of bins (N,) (the Gamma shape), and that of the whole spectrum."""
    n_bins = config.frame_size // 2
    k = np.arange(n_bins, dtype=np.float64)
    if kind == "white":
        shape = np.ones(n_bins)
    elif kind == "pink":
        shape = 1.0 / np.maximum(k, 1.0)  # DC held at the first bin's level, as evaluation.noise.pink does
    else:
        raise ValueError(f"unknown copy noise {kind!r}; expected one of {', '.join(KINDS)}")
    power = shape / shape.mean()  # bins average the frame energy
    weighted = mel_filterbank(max(config.mel_bands, config.n_mfcc), config.sample_rate, config.frame_size) * power
    mean = weighted.sum(axis=1)
    dof = mean**2 / np.maximum((weighted**2).sum(axis=1), 1e-300)
    total_dof = float(power.sum() ** 2 / (power**2).sum())
    for a in (mean, dof):
        a.setflags(write=False)
    return mean, dof, total_dof


def _speech_bands(mel: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """``noise_bands`` for noise shaped like the take's long-term spectrum: its mean band energies (N,),
    scaled to the total white noise of unit frame energy puts in the bands; white's degrees of freedom."""
    white_mean, dof, total_dof = noise_bands("white", config)
    long_term = np.maximum(np.exp(mel) - 1.0, 0.0).mean(axis=0) + 1e-12  # (N,) Meyda's E of ln(1 + E)
    return long_term / long_term.sum() * white_mean.sum(), dof, total_dof


def take_seed(mfcc: np.ndarray, energy: np.ndarray) -> int:
    """A seed from the take's content rounded to the wire's float16, so enrol, rebuild and delete draw the
    same noise, and a take sent as JSON draws what the same take sent in the binary form draws."""
    h = hashlib.sha256(np.ascontiguousarray(mfcc, dtype="<f2").tobytes())
    h.update(np.ascontiguousarray(np.log1p(np.maximum(np.asarray(energy, np.float64), 0.0)), dtype="<f2").tobytes())
    return int.from_bytes(h.digest()[:8], "little")


def noisy_copy(
    mfcc: np.ndarray,
    energy: np.ndarray,
    condition: CopyCondition,
    rng: np.random.Generator,
    config: FeatureConfig = DEFAULT_CONFIG,
) -> tuple[np.ndarray, np.ndarray]:
    """One noisy copy of raw frames mfcc (T, n_mfcc) and energy (T,): (mfcc' (T, n_mfcc), energy' (T,)).

    Units as Meyda's at ``config.input_scale``: energy is the frame's windowed sum of squares.
    """
    mfcc = np.asarray(mfcc, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if len(energy) == 0:
        return mfcc.copy(), energy.copy()
    noise_energy = float(np.mean(energy)) / 10 ** (condition.snr_db / 10)
    mel = log_mel(mfcc, config)
    if condition.kind == "babble":
        bands, frame_energy = babble.draw(babble.shipped_model(), len(energy), rng)
        return mfcc_of(np.log(np.exp(mel) + bands * noise_energy), mfcc.shape[1]), energy + frame_energy * noise_energy
    spectrum = _speech_bands(mel, config) if condition.kind == "speech" else noise_bands(condition.kind, config)
    return with_stationary_noise(mfcc, energy, mel, spectrum, noise_energy, rng)


def with_stationary_noise(
    mfcc: np.ndarray,
    energy: np.ndarray,
    mel: np.ndarray,
    bands: tuple[np.ndarray, np.ndarray, float],
    noise_energy: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw frames mfcc (T, n_mfcc), energy (T,) with their log-mel ``mel`` (T, N), plus stationary noise of
    ``noise_energy`` expected frame energy: each band's power Gamma-drawn around ``bands``' mean (N,) with its
    degrees of freedom (N,), the frame energy with the whole spectrum's (``noise_bands``' triple)."""
    mean, dof, total_dof = bands
    t = len(energy)
    band_noise = rng.gamma(dof, 1.0, size=(t, len(dof))) / dof * (mean * noise_energy)  # (T, N)
    frame_noise = rng.gamma(total_dof, 1.0, size=t) / total_dof * noise_energy  # (T,)
    noisy_mel = np.log(np.exp(mel) + band_noise)
    return mfcc_of(noisy_mel, mfcc.shape[1]), energy + frame_noise


def noisy_copies(
    mfcc: np.ndarray, energy: np.ndarray, recipe: CopyRecipe = DEFAULT_RECIPE, config: FeatureConfig = DEFAULT_CONFIG
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The recipe's copies of one take, in recipe order; deterministic in the take's content."""
    rng = np.random.default_rng(take_seed(mfcc, energy))
    return [noisy_copy(mfcc, energy, c, rng, config) for c in recipe.conditions]


def frame_sets(
    mfcc: np.ndarray,
    energy: np.ndarray,
    post: PostConfig = DEFAULT_POST,
    recipe: CopyRecipe = DEFAULT_RECIPE,
    config: FeatureConfig = DEFAULT_CONFIG,
) -> list[tuple[np.ndarray, float]]:
    """The post-processed frames (N, D) one take contributes to a speaker model, with their weights: the take
    (1) and each of ``recipe``'s noisy copies (``recipe.weight``), on the take as stored (float32), so what
    delete subtracts is exactly what enrol added."""
    sets, weights = shared_frame_sets(mfcc, energy, post, (recipe,), config)
    return [(s, float(w)) for s, w in zip(sets, weights[0], strict=True)]


def shared_frame_sets(
    mfcc: np.ndarray,
    energy: np.ndarray,
    post: PostConfig,
    recipes: Sequence[CopyRecipe],
    config: FeatureConfig = DEFAULT_CONFIG,
) -> tuple[list[np.ndarray], np.ndarray]:
    """``frame_sets`` of one take for several recipes at once: the distinct frame sets (S of (N_s, D)) and
    each recipe's weight of each (R, S), 0 for a set it does not hold. Copies are drawn in recipe order from
    one take-seeded stream, so recipes whose conditions begin alike share those copies: they are drawn and
    post-processed once (and a caller puts them through the posteriors once, ``weighted_stats_each``)."""
    mfcc = np.asarray(mfcc, dtype=np.float32).astype(np.float64)
    energy = np.asarray(energy, dtype=np.float32).astype(np.float64)
    sets = [postprocess(mfcc, energy, post)]
    weights = np.zeros((len(recipes), 1 + sum(len(r.conditions) for r in recipes)))
    weights[:, 0] = 1.0
    drawn: dict[
        tuple[CopyCondition, ...], tuple[int, Mapping[str, Any]]
    ] = {}  # condition prefix: (set, stream state after)
    seed = take_seed(mfcc, energy)
    for i, recipe in enumerate(recipes):
        rng = np.random.default_rng(seed)
        for n in range(1, len(recipe.conditions) + 1):
            prefix = recipe.conditions[:n]
            if prefix not in drawn:
                copy_mfcc, copy_energy = noisy_copy(mfcc, energy, prefix[-1], rng, config)
                sets.append(postprocess(copy_mfcc, copy_energy, post))
                drawn[prefix] = (len(sets) - 1, rng.bit_generator.state)
            index, state = drawn[prefix]
            rng.bit_generator.state = state
            weights[i, index] += recipe.weight
    return sets, weights[:, : len(sets)]


def take_stats(
    ubm: DiagGMM,
    mfcc: np.ndarray,
    energy: np.ndarray,
    post: PostConfig = DEFAULT_POST,
    recipe: CopyRecipe = DEFAULT_RECIPE,
    config: FeatureConfig = DEFAULT_CONFIG,
) -> Stats:
    """What one take adds to a speaker model (``frame_sets``), in float64 one set at a time (evaluation and
    the shipped noise model; the service sums the same sets in float32 blocks, ``voice.takes.contribution``)."""
    stats = Stats(np.zeros(ubm.n_components), np.zeros((ubm.n_components, ubm.dim)))
    for feats, weight in frame_sets(mfcc, energy, post, recipe, config):
        extra = utterance_stats(ubm, feats)
        stats = stats + Stats(weight * extra.n, weight * extra.f)
    return stats


def degraded_levels(
    mfcc: np.ndarray, energy: np.ndarray, levels_db: Sequence[float], config: FeatureConfig = DEFAULT_CONFIG
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The take degraded to each SNR of ``levels_db`` (one copy each), for calibration; the noise kind
    rotates through ``DEGRADED_KINDS`` from a take-seeded start, so a cohort's trials at a level mix them."""
    seed = take_seed(mfcc, energy)
    rng = np.random.default_rng([seed, 1])  # a stream of its own: not the enrolment copies' noise
    kinds = DEGRADED_KINDS
    return [
        noisy_copy(mfcc, energy, CopyCondition(kinds[(seed + i) % len(kinds)], float(snr)), rng, config)
        for i, snr in enumerate(levels_db)
    ]
