"""Stored takes as the models see them: their post-processed features, their level, and the one function
that rebuilds a speaker model from them (used by enrolment, the UBM switch and the reliability checks)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..features import DEFAULT_POST, PostConfig, postprocess
from ..models.gmm import DiagGMM
from ..models.speaker import SpeakerModel, utterance_stats
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


def rebuild_model(ubm: DiagGMM, rows: Iterable[Utterance], post: PostConfig = DEFAULT_POST) -> SpeakerModel:
    """The speaker model of ``rows`` (the takes of one user, of the UBM's feature configuration), from scratch.

    Statistics are deterministic given the take and the UBM, so this equals the incrementally kept model up
    to float32 storage rounding. Suspect takes (``Utterance.suspect_digit``) are not part of a model.
    """
    model = SpeakerModel.empty(ubm.n_components, ubm.dim)
    for row in rows:
        if row.suspect_digit is not None:
            continue
        model = model.add(row.digit, utterance_stats(ubm, take_features(row, post)))
    return model
