"""Stored calibration: per-user normalisation and the pooled deployment threshold."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models.calibration import NoisyScores
from ..models.noise_signature import NOISE_NORMALISATION
from .arrays import decode_f32, encode_f32
from .rows import insert_if_missing
from .tables import Calibration, DeploymentThreshold, utcnow


def get_calibration(session: Session, user_id: uuid.UUID) -> Calibration | None:
    return session.get(Calibration, user_id)


def calibration_scores(row: Calibration) -> np.ndarray:
    """The user's raw impostor scores. (n,) float32"""
    return decode_f32(row.impostor_scores, (-1,))


def noisy_scores(row: Calibration) -> NoisyScores | None:
    """The user's impostor scores with the cohort degraded to each noise level; None before levels existed."""
    if row.quality is None or row.noisy_scores is None:
        return None
    q = row.quality
    levels = len(q["snr"])
    return NoisyScores(
        np.asarray(q["snr"], dtype=np.float64),
        decode_f32(row.noisy_scores, (levels, -1)) if levels else np.zeros((0, 0), dtype=np.float32),
        np.asarray(q["locations"], dtype=np.float64),
        float(q["clean_snr"]),
        None if q.get("signature") is None else np.asarray(q["signature"], dtype=np.float64),
        None if q.get("clean_signature") is None else float(q["clean_signature"]),
    )


def _upsert(
    session: Session, table: type[Calibration] | type[DeploymentThreshold], key: Any, values: dict[str, Any]
) -> None:
    """Insert the row with primary key ``key`` or overwrite it, under a row lock.

    The values are deterministic functions of the stored data, so when two workers race to insert,
    the loser's savepoint rolls back and it overwrites the winner's row with the same values.
    """
    row = session.get(table, key, with_for_update=True)
    if row is None:
        pk = table.__mapper__.primary_key[0].name
        if insert_if_missing(session, lambda: table(**{pk: key}, **values)):
            return
        row = session.get(table, key, with_for_update=True, populate_existing=True)
        assert row is not None
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()


def put_calibration(
    session: Session,
    user_id: uuid.UUID,
    *,
    ubm_id: str,
    model_version: int,
    k: int,
    cohort_key: str,
    n_cohort_users: int,
    location: float,
    impostor_scores: np.ndarray,
    set_aside: Sequence[str] = (),
    noisy: NoisyScores | None = None,
) -> None:
    """Insert or replace the user's calibration (with its noise levels' scores, ``noisy``)."""
    values = {
        "ubm_id": ubm_id,
        "model_version": model_version,
        "k": k,
        "cohort_key": cohort_key,
        "n_cohort_users": n_cohort_users,
        "location": float(location),
        "impostor_scores": encode_f32(np.asarray(impostor_scores).ravel()),
        "set_aside": list(set_aside),
        "quality": None if noisy is None else _quality_doc(noisy),
        "noisy_scores": None if noisy is None else encode_f32(np.asarray(noisy.scores).ravel()),
        "computed_at": utcnow(),
    }
    _upsert(session, Calibration, user_id, values)


def _quality_doc(noisy: NoisyScores) -> dict[str, Any]:
    """What ``calibrations.quality`` stores of the noisy scores (the scores themselves go in ``noisy_scores``);
    the noise signatures, and the weight the scores were ``noise_normalised`` by, only when measured (rows
    without them are recomputed where a noise model exists)."""
    return {
        "clean_snr": float(noisy.clean_snr_db),
        "snr": [float(x) for x in noisy.snr_db],
        "locations": [float(x) for x in noisy.locations],
        "signature": None if noisy.signature is None else [float(x) for x in noisy.signature],
        "clean_signature": None if noisy.clean_signature is None else float(noisy.clean_signature),
        # the scores' scale: with signatures they are noise_normalised (rows of another weight are recomputed)
        "noise_normalisation": None if noisy.signature is None else NOISE_NORMALISATION,
    }


def pooled(session: Session, ubm_id: str, k: int, limit: int) -> list[Calibration]:
    """Calibrations of up to ``limit`` users for this UBM and k, in a stable order."""
    stmt = (
        select(Calibration)
        .where(Calibration.ubm_id == ubm_id, Calibration.k == k)
        .order_by(Calibration.user_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_threshold(session: Session, k: int) -> DeploymentThreshold | None:
    return session.get(DeploymentThreshold, k)


def put_threshold(
    session: Session,
    *,
    k: int,
    ubm_id: str,
    target_far: float,
    threshold: float,
    grand_location: float,
    n_users: int,
    n_scores: int,
    levels: dict[str, Any] | None = None,
) -> None:
    values = {
        "levels": levels,
        "ubm_id": ubm_id,
        "target_far": target_far,
        "threshold": threshold,
        "grand_location": grand_location,
        "n_users": n_users,
        "n_scores": n_scores,
        "computed_at": utcnow(),
    }
    _upsert(session, DeploymentThreshold, k, values)


def delete_calibration(session: Session, user_id: uuid.UUID) -> None:
    session.execute(delete(Calibration).where(Calibration.user_id == user_id))
