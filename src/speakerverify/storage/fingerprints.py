"""Replay fingerprints of a user's enrolment takes and verification segments."""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import replay
from .tables import ReplayFingerprint, Utterance
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


def user_fingerprints(session: Session, user_id: uuid.UUID) -> np.ndarray:
    """(N, FP_FRAMES, FP_COEFFS) of everything seen for the user, including takes stored before
    fingerprints existed (computed from their frames on the fly)."""
    blobs = list(session.scalars(select(ReplayFingerprint.fingerprint).where(ReplayFingerprint.user_id == user_id)))
    fps = [replay.decode(b) for b in blobs]
    has_fp = select(ReplayFingerprint.id).where(ReplayFingerprint.utterance_id == Utterance.id).exists()
    for row in session.scalars(select(Utterance).where(Utterance.user_id == user_id, ~has_fp)):
        fps.append(replay.fingerprint(*utterance_arrays(row)))
    if not fps:
        return np.zeros((0, replay.FP_FRAMES, replay.FP_COEFFS), dtype=replay.FP_DTYPE)
    return np.stack(fps)
