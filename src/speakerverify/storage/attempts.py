"""Verification attempts: the user's scoring log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .tables import VerificationAttempt


def record_attempt(
    session: Session,
    user_id: uuid.UUID,
    *,
    challenge_id: uuid.UUID | None,
    ubm_id: str | None,
    model_version: int | None,
    n_frames: int,
    score: float | None,
    threshold: float | None,
    decision: str,
    detail: dict[str, Any],
) -> VerificationAttempt:
    row = VerificationAttempt(
        user_id=user_id,
        challenge_id=challenge_id,
        ubm_id=ubm_id,
        model_version=model_version,
        n_frames=n_frames,
        score=score,
        threshold=threshold,
        decision=decision,
        detail=detail,
    )
    session.add(row)
    session.flush()
    return row


def list_attempts(session: Session, user_id: uuid.UUID, limit: int = 100) -> list[VerificationAttempt]:
    """The most recent attempts first."""
    stmt = (
        select(VerificationAttempt)
        .where(VerificationAttempt.user_id == user_id)
        .order_by(VerificationAttempt.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
