"""Stored takes as the models see them: their post-processed features, their level, and the one function
that rebuilds a speaker model from them (used by enrolment, the UBM switch and the reliability checks)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..features import DEFAULT_POST, PostConfig, postprocess
from ..models.gmm import DiagGMM
from ..models.noisy_copies import DEFAULT_RECIPE, CopyRecipe, take_stats
from ..models.speaker import SpeakerModel, Stats
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


def row_stats(
    ubm: DiagGMM, row: Utterance, post: PostConfig = DEFAULT_POST, recipe: CopyRecipe = DEFAULT_RECIPE
) -> Stats:
    """What a stored take contributes to its user's model: its statistics and its noisy copies'."""
    mfcc, energy = utterances.utterance_arrays(row)
    return take_stats(ubm, mfcc, energy, post, recipe)


def rebuild_model(
    ubm: DiagGMM, rows: Iterable[Utterance], post: PostConfig = DEFAULT_POST, recipe: CopyRecipe = DEFAULT_RECIPE
) -> SpeakerModel:
    """The speaker model of ``rows`` (the takes of one user, of the UBM's feature configuration), from scratch,
    each take with ``recipe``'s noisy copies.

    Statistics are deterministic given the take (its copies are seeded from its content) and the UBM, so
    this equals the incrementally kept model up to float32 storage rounding. Suspect takes
    (``Utterance.suspect_digit``) are not part of a model.
    """
    model = SpeakerModel.empty(ubm.n_components, ubm.dim)
    for row in rows:
        if row.suspect_digit is not None:
            continue
        model = model.add(row.digit, row_stats(ubm, row, post, recipe))
    return model
