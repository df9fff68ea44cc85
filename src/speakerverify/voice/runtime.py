"""Per-process voice state: the active UBM and a cache of derived speaker models.

A speaker model is not stored: it is derived from the user's stored takes (``derive``, ~0.1-0.3 s for
60 takes, BENCHMARKS.md "Storage derived from the takes") and kept here. The cache is keyed by the
model row's version, bumped by every change to the takes and read from the database first by every
request, so a model changed by another worker is never scored stale. It is bounded in bytes (least
recently used out first), not in users, so a worker's memory stays flat however many users the
database holds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ..features import DEFAULT_CONFIG, DEFAULT_POST, FeatureConfig, PostConfig
from ..models import replay
from ..models.io import load_gmm
from ..models.scoring import ModelTerms, model_terms
from ..models.speaker import DEFAULT_ADAPTATION, AdaptationConfig, SpeakerModel, digit_means
from ..models.ubm import UBM, load_default_ubm
from ..storage import deployment, speaker_models, ubms, utterances
from ..storage.db import Database
from .takes import DEFAULT_RECIPES, Recipes, UserModel, stacked_user_model


def load_ubm(path: Path | None) -> UBM:
    """The UBM in ``path`` (an npz from ``models.io.save_gmm``), or the one shipped in the package."""
    if path is None:
        return load_default_ubm()
    gmm, meta = load_gmm(path)
    for key in ("ubm_id", "config_id", "post_id"):
        if key not in meta:
            raise ValueError(f"{path}: UBM metadata lacks {key!r}")
    return UBM(gmm, meta)


def resolve_ubm(db: Database, path: Path | None) -> UBM:
    """The UBM to serve: ``path`` (SPEAKERVERIFY_UBM_FILE) if given, else the database's active UBM
    (switched to by ``speakerverify models rebuild``), else the one shipped in the package."""
    if path is not None:
        return load_ubm(path)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with db.read_session() as session:
            ubm_id = deployment.get_setting(session, deployment.ACTIVE_UBM)
            stored = ubms.get_ubm(session, str(ubm_id)) if ubm_id else None
    except SQLAlchemyError:  # schema not migrated yet: the app's start-up check reports that
        stored = None
    return stored if stored is not None else load_default_ubm()


@dataclass(frozen=True)
class CachedModel:
    """A user's model as scoring needs it, derived from the stored takes (nothing of it is stored): the
    statistics of the takes in the voice model and in the content check's (``voice.takes.UserModel``;
    float64, so enrolment adds and removes takes without drift), the voice model's ten digit models' density
    terms (float32), and every stored take's replay template (suspect takes too: they were sent, so a replay
    of one is still a replay)."""

    version: int
    model: SpeakerModel
    content: SpeakerModel
    terms: ModelTerms
    variances: np.ndarray  # the UBM's (C, D), shared, to give back the means
    take_ids: tuple[int, ...] = ()
    take_templates: tuple[np.ndarray, ...] = ()  # (rows, coeffs) float16 each, as ``models.replay`` stores them
    take_digits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # (len(take_ids),)

    @property
    def takes(self) -> np.ndarray:
        """(10,) takes of each digit in the model (suspect takes are not)."""
        return self.model.takes

    @property
    def user_model(self) -> UserModel:
        return UserModel(self.model, self.content)

    @property
    def digit_means(self) -> np.ndarray:
        """(10, C, D)"""
        return self.terms.linear.astype(np.float64) * self.variances[None]

    def templates_of(self, digits: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
        """The take templates of ``digits`` and their digits (N,)."""
        keep = np.isin(self.take_digits, digits)
        return [t for t, k in zip(self.take_templates, keep, strict=True) if k], self.take_digits[keep]

    @property
    def nbytes(self) -> int:
        stats = sum(m.n.nbytes + m.f.nbytes for m in (self.model, self.content))
        return stats + self.terms.linear.nbytes + self.terms.const.nbytes + sum(t.nbytes for t in self.take_templates)


def take_template(mfcc: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """A take's replay template at the precision ``models.replay`` stores templates in (float16), so a
    derived one is the one a stored row gave back."""
    return replay.decode(replay.encode(replay.template(mfcc, energy)))


def cached_model(
    ubm: UBM,
    version: int,
    model: UserModel,
    adaptation: AdaptationConfig,
    templates: dict[int, tuple[int, np.ndarray]] | None = None,
) -> CachedModel:
    """The entry for ``model`` (statistics) at row ``version``; ``templates``: {take id: (digit, template)}."""
    terms = model_terms(ubm.gmm, digit_means(ubm.gmm, model.voice, adaptation), dtype=np.float32)
    ids = tuple(sorted(templates or {}))
    held = templates or {}
    return CachedModel(
        version,
        model.voice,
        model.content,
        terms,
        ubm.gmm.variances,
        ids,
        tuple(held[i][1] for i in ids),
        np.array([held[i][0] for i in ids], dtype=int),
    )


@dataclass
class VoiceRuntime:
    ubm: UBM
    config: FeatureConfig = DEFAULT_CONFIG
    post: PostConfig = DEFAULT_POST
    adaptation: AdaptationConfig = DEFAULT_ADAPTATION
    recipes: Recipes = DEFAULT_RECIPES  # the noisy copies every take's statistics include, in each model
    cache_bytes: int = 256 * 2**20  # ~2.0 MB a user (two models' float64 statistics, float32 terms, templates): ~130
    _cache: OrderedDict[uuid.UUID, CachedModel] = field(default_factory=OrderedDict)
    _cached_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ready_count: tuple[int, float] | None = None  # (count, time.monotonic() when counted)

    def __post_init__(self) -> None:
        if self.ubm.config_id != self.config.config_id or self.ubm.post_id != self.post.post_id:
            raise ValueError(
                f"UBM {self.ubm.ubm_id} expects {self.ubm.config_id}/{self.ubm.post_id}, "
                f"the service computes {self.config.config_id}/{self.post.post_id}"
            )

    def holds(self, current: tuple[int, str, str | None] | None) -> bool:
        """Is a stored model of this ``speaker_models.model_version`` one this runtime scores: adapted from
        the active UBM and built with its noisy copies (a model from before copies existed has none)?"""
        return (
            current is not None and current[1] == self.ubm.ubm_id and (current[2] or "none") == self.recipes.copies_id
        )

    def speaker(self, session: Session, user_id: uuid.UUID) -> CachedModel | None:
        """The user's current model (against the active UBM, with the runtime's copies) and its digit means;
        None if there is none (``app.enrolment.ensure_current`` then rebuilds it from the stored takes)."""
        current = speaker_models.model_version(session, user_id)
        if current is None or not self.holds(current):
            return None
        version = current[0]
        with self._lock:
            hit = self._cache.get(user_id)
            if hit is not None and hit.version == version:
                self._cache.move_to_end(user_id)
                return hit
        entry = self.derive(session, user_id, version)
        self.install(user_id, entry)
        return entry

    def derive(self, session: Session, user_id: uuid.UUID, version: int) -> CachedModel:
        """The entry of the user's stored takes (of the runtime's feature configuration), labelled
        ``version``: read after the version, so the takes are at least as new as the label (a newer label
        in the database then makes the next read derive again; never a stale entry under a current label)."""
        rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == self.config.config_id]
        arrays = [utterances.utterance_arrays(r) for r in rows]
        model = stacked_user_model(
            self.ubm.gmm,
            [(r.digit, m, e) for r, (m, e) in zip(rows, arrays, strict=True) if r.suspect_digit is None],
            self.post,
            self.recipes,
        )
        templates = {r.id: (r.digit, take_template(m, e)) for r, (m, e) in zip(rows, arrays, strict=True)}
        return cached_model(self.ubm, version, model, self.adaptation, templates)

    def install(self, user_id: uuid.UUID, entry: CachedModel) -> None:
        """Keep ``entry`` unless a newer version is cached already (two threads finishing out of order)."""
        with self._lock:
            held = self._cache.get(user_id)
            if held is not None and held.version > entry.version:
                return
            self._drop(user_id)
            self._cache[user_id] = entry
            self._cached_bytes += entry.nbytes
            while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
                self._drop(next(iter(self._cache)))

    def _drop(self, user_id: uuid.UUID) -> None:
        gone = self._cache.pop(user_id, None)
        if gone is not None:
            self._cached_bytes -= gone.nbytes

    def ready_count(self, session: Session, exact_up_to: int, max_age_seconds: float = 30.0) -> int:
        """How many users are ready. Exact while it is at most ``exact_up_to``; above that, a count up
        to ``max_age_seconds`` old: counting is the one per-request cost that grows with the user base,
        and at that size only a 10% change in the population matters (``calibration._threshold_stale``)."""
        now = time.monotonic()
        with self._lock:
            held = self._ready_count
        if held is not None and held[0] > exact_up_to and now - held[1] < max_age_seconds:
            return held[0]
        count = speaker_models.count_ready(session)
        with self._lock:
            self._ready_count = (count, now)
        return count

    def forget(self, user_id: uuid.UUID) -> None:
        with self._lock:
            self._drop(user_id)
