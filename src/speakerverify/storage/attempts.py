"""Verification attempts: the scoring log (scores are for the operator; claimants see decisions only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from .tables import Challenge, VerificationAttempt


def insert_attempt(
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
    token_jti: str | None = None,
) -> int:
    """Record one verification attempt; its id. One INSERT ... RETURNING, without an ORM object (the
    answer's hot path)."""
    values = {
        "user_id": user_id,
        "challenge_id": challenge_id,
        "ubm_id": ubm_id,
        "model_version": model_version,
        "n_frames": n_frames,
        "score": score,
        "threshold": threshold,
        "decision": decision,
        "detail": detail,
        "token_jti": token_jti,
    }
    return int(session.execute(_INSERT, values).scalar_one())


# Built once, on the table (Core, no ORM bulk-insert path): building it cost more than running it.
_TABLE = cast(Table, VerificationAttempt.__table__)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def list_attempts(session: Session, user_id: uuid.UUID, limit: int = 100) -> list[VerificationAttempt]:
    """The most recent attempts first."""
    stmt = (
        select(VerificationAttempt)
        .where(VerificationAttempt.user_id == user_id)
        .order_by(VerificationAttempt.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def accepted_since(session: Session, user_id: uuid.UUID, token_jti: str, since: datetime) -> bool:
    """Did the session ``token_jti`` of this user pass a voice verification at or after ``since``?"""
    stmt = (
        select(VerificationAttempt.id)
        .where(
            VerificationAttempt.user_id == user_id,
            VerificationAttempt.token_jti == token_jti,
            VerificationAttempt.decision == "accept",
            VerificationAttempt.created_at >= since,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def all_attempts(session: Session, user_id: uuid.UUID | None = None, limit: int = 100) -> list[VerificationAttempt]:
    """The most recent attempts first, of one user or of everyone (the operator's audit view)."""
    stmt = select(VerificationAttempt).order_by(VerificationAttempt.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(VerificationAttempt.user_id == user_id)
    return list(session.scalars(stmt))


def purge_older(session: Session, user_id: uuid.UUID, before: datetime) -> int:
    """Delete the user's attempts recorded before ``before`` and the answered challenges used before it
    (retention, ``SPEAKERVERIFY_ATTEMPT_RETENTION_DAYS``). Returns the attempts deleted."""
    mine = VerificationAttempt.user_id == user_id
    gone = session.execute(delete(VerificationAttempt).where(mine, VerificationAttempt.created_at < before))
    session.execute(delete(Challenge).where(Challenge.user_id == user_id, Challenge.used_at < before))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]
