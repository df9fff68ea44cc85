"""Stored takes as the models see them: their post-processed features, their level, and the one function
that rebuilds a speaker model from them (used by enrolment, the UBM switch and the reliability checks)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..features import DEFAULT_POST, PostConfig, postprocess
from ..models.gmm import DiagGMM
from ..models.noisy_copies import DEFAULT_RECIPE, CopyRecipe, frame_sets
from ..models.speaker import N_DIGITS, SpeakerModel, Stats, weighted_stats
from ..storage import utterances
from ..storage.tables import Utterance

# Frame energy of a full-scale sine through Meyda's window at int16 scale: 32768^2 * 0.5 * sum(w^2).
_FULL_SCALE_ENERGY = 32768.0**2 * 0.5 * 101.7408


def level_dbfs(energy: np.ndarray) -> float:
    """Loudest frame of energy (T,) relative to a full-scale sine, in dB."""
    peak = float(np.max(energy)) if len(energy) else 0.0
    return 10 * np.log10(peak / _FULL_SCALE_ENERGY) if peak > 0 else float("-inf")


def take_features(row: Utterance, post: PostConfig = DEFAULT_POST) -> np.ndarray:
    """A stored take's post-processed frames (N, D)."""
    mfcc, energy = utterances.utterance_arrays(row)
    return postprocess(mfcc, energy, post)


def contribution(
    ubm: DiagGMM,
    mfcc: np.ndarray,
    energy: np.ndarray,
    post: PostConfig = DEFAULT_POST,
    recipe: CopyRecipe = DEFAULT_RECIPE,
) -> Stats:
    """What one take adds to its user's model: its statistics and its noisy copies' (weighted), computed
    as ``stacked_model`` computes them, so a model kept by adding and removing takes is the model derived
    from the takes (to float32 rounding of the posteriors, ~1e-6 relative; ``models.noisy_copies.take_stats``
    is the same sum in float64)."""
    sets = frame_sets(mfcc, energy, post, recipe)
    x = np.concatenate([s for s, _ in sets])
    return weighted_stats(ubm, x, np.concatenate([np.full(len(s), w) for s, w in sets]))


def row_stats(
    ubm: DiagGMM, row: Utterance, post: PostConfig = DEFAULT_POST, recipe: CopyRecipe = DEFAULT_RECIPE
) -> Stats:
    """What a stored take contributes to its user's model (``contribution``)."""
    mfcc, energy = utterances.utterance_arrays(row)
    return contribution(ubm, mfcc, energy, post, recipe)


def rebuild_model(
    ubm: DiagGMM, rows: Iterable[Utterance], post: PostConfig = DEFAULT_POST, recipe: CopyRecipe = DEFAULT_RECIPE
) -> SpeakerModel:
    """The speaker model of ``rows`` (the takes of one user, of the UBM's feature configuration), from scratch,
    each take with ``recipe``'s noisy copies (``stacked_model``). Suspect takes (``Utterance.suspect_digit``)
    are not part of a model."""
    held = [(r.digit, *utterances.utterance_arrays(r)) for r in rows if r.suspect_digit is None]
    return stacked_model(ubm, held, post, recipe)


def stacked_model(
    ubm: DiagGMM,
    takes: Iterable[tuple[int, np.ndarray, np.ndarray]],
    post: PostConfig = DEFAULT_POST,
    recipe: CopyRecipe = DEFAULT_RECIPE,
) -> SpeakerModel:
    """The speaker model of ``takes`` ((digit, mfcc (T, n_mfcc), energy (T,)) each, suspect ones left out
    by the caller): every take's and copy's frames stacked per digit and put through the UBM posteriors
    in blocks (``weighted_stats``), instead of five ``posteriors`` calls a take. Equals the sum of the
    takes' ``contribution`` to float rounding (tested)."""
    frames: dict[int, list[tuple[np.ndarray, float]]] = {}
    counts = np.zeros(N_DIGITS, dtype=np.int64)
    for digit, mfcc, energy in takes:
        frames.setdefault(digit, []).extend(frame_sets(mfcc, energy, post, recipe))
        counts[digit] += 1
    model = SpeakerModel.empty(ubm.n_components, ubm.dim)
    n, f = model.n.copy(), model.f.copy()
    for digit, sets in frames.items():
        x = np.concatenate([s for s, _ in sets])
        w = np.concatenate([np.full(len(s), weight) for s, weight in sets])
        stats = weighted_stats(ubm, x, w)
        n[digit], f[digit] = stats.n, stats.f
    return SpeakerModel(n, f, counts)
