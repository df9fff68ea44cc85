"""Replay fingerprints of a user's enrolment takes and verification segments."""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..models import replay
from .tables import ReplayFingerprint, Utterance, utcnow
from .utterances import utterance_arrays


def add(
    session: Session,
    user_id: uuid.UUID,
    digit: int,
    fp: np.ndarray,
    *,
    utterance_id: int | None = None,
    challenge_id: uuid.UUID | None = None,
) -> None:
    session.add(
        ReplayFingerprint(
            user_id=user_id,
            utterance_id=utterance_id,
            challenge_id=challenge_id,
            digit=digit,
            fingerprint=replay.encode(fp),
        )
    )


def add_many(
    session: Session, user_id: uuid.UUID, digits: list[int], fps: list[np.ndarray], challenge_id: uuid.UUID
) -> None:
    """The fingerprints of one answer's segments, in one statement."""
    now = utcnow()
    session.execute(
        insert(ReplayFingerprint),
        [
            {
                "user_id": user_id,
                "challenge_id": challenge_id,
                "digit": digit,
                "fingerprint": replay.encode(fp),
                "created_at": now,
            }
            for digit, fp in zip(digits, fps, strict=True)
        ],
    )


def _stack(fps: list[np.ndarray]) -> np.ndarray:
    if not fps:
        return np.zeros((0, replay.FP_FRAMES, replay.FP_COEFFS), dtype=replay.FP_DTYPE)
    return np.stack(fps)


def user_fingerprints(session: Session, user_id: uuid.UUID) -> np.ndarray:
    """(N, FP_FRAMES, FP_COEFFS) of everything seen for the user, including takes stored before
    fingerprints existed (computed from their frames on the fly)."""
    return user_fingerprints_with_ids(session, user_id)[0]


def user_fingerprints_with_ids(session: Session, user_id: uuid.UUID) -> tuple[np.ndarray, set[int]]:
    """``user_fingerprints`` and the ids of the stored ones among them, so that a later transaction can
    fetch only what was added since (``fingerprints_not_in``)."""
    rows = session.execute(
        select(ReplayFingerprint.id, ReplayFingerprint.fingerprint).where(ReplayFingerprint.user_id == user_id)
    ).all()
    fps = [replay.decode(blob) for _, blob in rows]
    ids = {int(i) for i, _ in rows}
    has_fp = select(ReplayFingerprint.id).where(ReplayFingerprint.utterance_id == Utterance.id).exists()
    for row in session.scalars(select(Utterance).where(Utterance.user_id == user_id, ~has_fp)):
        fps.append(replay.fingerprint(*utterance_arrays(row)))
    return _stack(fps), ids


def fingerprints_not_in(session: Session, user_id: uuid.UUID, seen: set[int]) -> np.ndarray:
    """The user's stored fingerprints whose ids are not in ``seen`` (ids only are scanned; ids are not
    committed in order on PostgreSQL, so "above the largest seen" could miss one). (N, FP_FRAMES, FP_COEFFS)"""
    ids = set(session.scalars(select(ReplayFingerprint.id).where(ReplayFingerprint.user_id == user_id))) - seen
    if not ids:
        return _stack([])
    blobs = session.scalars(select(ReplayFingerprint.fingerprint).where(ReplayFingerprint.id.in_(sorted(ids))))
    return _stack([replay.decode(b) for b in blobs])
