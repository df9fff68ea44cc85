"""Per-process voice state: the active UBM and a cache of derived speaker models.

The cache is keyed by the model row's version, which every request reads from the
database first, so a model changed by another worker is never scored stale.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ..features import DEFAULT_CONFIG, DEFAULT_POST, FeatureConfig, PostConfig
from ..models.io import load_gmm
from ..models.speaker import DEFAULT_ADAPTATION, AdaptationConfig, SpeakerModel, digit_means
from ..models.ubm import UBM, load_default_ubm
from ..storage import deployment, speaker_models, ubms
from ..storage.db import Database


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
    version: int
    model: SpeakerModel
    digit_means: np.ndarray  # (10, C, D)


@dataclass
class VoiceRuntime:
    ubm: UBM
    config: FeatureConfig = DEFAULT_CONFIG
    post: PostConfig = DEFAULT_POST
    adaptation: AdaptationConfig = DEFAULT_ADAPTATION
    cache_size: int = 1024
    _cache: OrderedDict[uuid.UUID, CachedModel] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.ubm.config_id != self.config.config_id or self.ubm.post_id != self.post.post_id:
            raise ValueError(
                f"UBM {self.ubm.ubm_id} expects {self.ubm.config_id}/{self.ubm.post_id}, "
                f"the service computes {self.config.config_id}/{self.post.post_id}"
            )

    def speaker(self, session: Session, user_id: uuid.UUID) -> CachedModel | None:
        """The user's current model (against the active UBM) and its digit means; None if there is none."""
        current = speaker_models.model_version(session, user_id)
        if current is None or current[1] != self.ubm.ubm_id:
            return None
        version = current[0]
        with self._lock:
            hit = self._cache.get(user_id)
            if hit is not None and hit.version == version:
                self._cache.move_to_end(user_id)
                return hit
        row = speaker_models.get_model(session, user_id)
        if row is None:
            return None
        model = speaker_models.decode_model(row.stats)
        entry = CachedModel(row.version, model, digit_means(self.ubm.gmm, model, self.adaptation))
        with self._lock:
            self._cache[user_id] = entry
            self._cache.move_to_end(user_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return entry

    def forget(self, user_id: uuid.UUID) -> None:
        with self._lock:
            self._cache.pop(user_id, None)
