"""Stored takes as the models see them: their post-processed features, their level, and the one function
that rebuilds a speaker model from them (used by enrolment, the UBM switch and the reliability checks).

Every user has two models of the same takes, differing only in the takes' noisy copies (``Recipes``): the
voice model, that verification scores, and the digit models of the enrolment content check."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..features import DEFAULT_POST, PostConfig, postprocess
from ..models.gmm import DiagGMM
from ..models.noisy_copies import CONTENT_RECIPE, DEFAULT_RECIPE, CopyRecipe, shared_frame_sets
from ..models.speaker import N_DIGITS, SpeakerModel, Stats, weighted_stats_each
from ..storage import utterances
from ..storage.tables import Utterance

# Frame energy of a full-scale sine through Meyda's window at int16 scale: 32768^2 * 0.5 * sum(w^2).
_FULL_SCALE_ENERGY = 32768.0**2 * 0.5 * 101.7408


def level_dbfs(energy: np.ndarray) -> float:
    """Loudest frame of energy (T,) relative to a full-scale sine, in dB."""
    peak = float(np.max(energy)) if len(energy) else 0.0
    return 10 * np.log10(peak / _FULL_SCALE_ENERGY) if peak > 0 else float("-inf")


@dataclass(frozen=True)
class Recipes:
    """The noisy copies of a user's two models: ``voice`` (scored by verification) and ``content`` (the
    enrolment content check's digit models, ``models.noisy_copies.CONTENT_RECIPE``)."""

    voice: CopyRecipe = DEFAULT_RECIPE
    content: CopyRecipe = CONTENT_RECIPE

    @property
    def copies_id(self) -> str:
        """Stored with the model row (64 characters at most), so a change of either rebuilds the models."""
        if self.voice == self.content:
            return self.voice.copies_id
        return f"{self.voice.copies_id}+{self.content.copies_id}"

    @property
    def both(self) -> tuple[CopyRecipe, CopyRecipe]:
        return self.voice, self.content


DEFAULT_RECIPES = Recipes()


@dataclass(frozen=True)
class TakeStats:
    """What one take adds to its user's two models (``Recipes``)."""

    voice: Stats
    content: Stats


@dataclass(frozen=True)
class UserModel:
    """A user's two models of the same takes (``Recipes``): ``voice`` and ``content``. Adding or removing
    a take changes both, so the two always hold the same takes."""

    voice: SpeakerModel
    content: SpeakerModel

    @staticmethod
    def empty(n_components: int, dim: int) -> UserModel:
        return UserModel(SpeakerModel.empty(n_components, dim), SpeakerModel.empty(n_components, dim))

    @property
    def takes(self) -> np.ndarray:
        """(10,) takes of each digit in the models."""
        return self.voice.takes

    def add(self, digit: int, stats: TakeStats) -> UserModel:
        return UserModel(self.voice.add(digit, stats.voice), self.content.add(digit, stats.content))

    def remove(self, digit: int, stats: TakeStats) -> UserModel:
        return UserModel(self.voice.remove(digit, stats.voice), self.content.remove(digit, stats.content))


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
    return _contributions(ubm, mfcc, energy, post, (recipe,))[0]


def _contributions(
    ubm: DiagGMM, mfcc: np.ndarray, energy: np.ndarray, post: PostConfig, recipes: Sequence[CopyRecipe]
) -> list[Stats]:
    """``contribution`` under each recipe, the copies the recipes share drawn and put through the
    posteriors once."""
    sets, weights = shared_frame_sets(mfcc, energy, post, recipes)
    return weighted_stats_each(ubm, np.concatenate(sets), np.repeat(weights, [len(x) for x in sets], axis=1))


def take_stats_pair(
    ubm: DiagGMM,
    mfcc: np.ndarray,
    energy: np.ndarray,
    post: PostConfig = DEFAULT_POST,
    recipes: Recipes = DEFAULT_RECIPES,
) -> TakeStats:
    """``contribution`` of one take to both models (the copies they share drawn once)."""
    voice, content = _contributions(ubm, mfcc, energy, post, recipes.both)
    return TakeStats(voice, content)


def row_stats_pair(
    ubm: DiagGMM, row: Utterance, post: PostConfig = DEFAULT_POST, recipes: Recipes = DEFAULT_RECIPES
) -> TakeStats:
    """What a stored take contributes to its user's two models (``take_stats_pair``)."""
    mfcc, energy = utterances.utterance_arrays(row)
    return take_stats_pair(ubm, mfcc, energy, post, recipes)


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
    return _stacked(ubm, takes, post, (recipe,))[0]


def stacked_user_model(
    ubm: DiagGMM,
    takes: Iterable[tuple[int, np.ndarray, np.ndarray]],
    post: PostConfig = DEFAULT_POST,
    recipes: Recipes = DEFAULT_RECIPES,
) -> UserModel:
    """``stacked_model`` of ``takes`` for both models at once (the copies they share drawn and put through
    the posteriors once). Equals the sum of the takes' ``take_stats_pair`` to float rounding (tested)."""
    voice, content = _stacked(ubm, takes, post, recipes.both)
    return UserModel(voice, content)


def _stacked(
    ubm: DiagGMM, takes: Iterable[tuple[int, np.ndarray, np.ndarray]], post: PostConfig, recipes: Sequence[CopyRecipe]
) -> list[SpeakerModel]:
    """``stacked_model`` under each recipe: each digit's distinct frame sets stacked, weighted per recipe
    (``weighted_stats_each``)."""
    frames: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # digit: [(set (N, D), weights (R,))]
    counts = np.zeros(N_DIGITS, dtype=np.int64)
    for digit, mfcc, energy in takes:
        sets, weights = shared_frame_sets(mfcc, energy, post, recipes)
        frames.setdefault(digit, []).extend(zip(sets, weights.T, strict=True))
        counts[digit] += 1
    empty = SpeakerModel.empty(ubm.n_components, ubm.dim)
    n = np.repeat(empty.n[None], len(recipes), axis=0)  # (R, 10, C)
    f = np.repeat(empty.f[None], len(recipes), axis=0)  # (R, 10, C, D)
    for digit, held in frames.items():
        x = np.concatenate([s for s, _ in held])
        w = np.concatenate([np.repeat(weight[:, None], len(s), axis=1) for s, weight in held], axis=1)  # (R, N)
        for r, stats in enumerate(weighted_stats_each(ubm, x, w)):
            n[r, digit], f[r, digit] = stats.n, stats.f
    return [SpeakerModel(n[r], f[r], counts.copy()) for r in range(len(recipes))]
