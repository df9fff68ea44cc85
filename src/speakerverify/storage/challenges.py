"""Challenges: prompted digit sequences, single-use, expiring, bound to one user, visible to every worker."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .tables import Challenge, utcnow


def create_challenge(session: Session, user_id: uuid.UUID, digits: list[int], expires_at: datetime) -> Challenge:
    row = Challenge(user_id=user_id, digits="".join(str(d) for d in digits), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


class Consumed(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such challenge, or another user's: indistinguishable on purpose
    USED = "used"
    EXPIRED = "expired"


def consume_challenge(session: Session, challenge_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Consumed, list[int]]:
    """Mark the user's challenge used, atomically: of concurrent answers exactly one gets ``OK``.

    The conditional UPDATE is the whole check, so it holds across processes on both databases.
    """
    now = utcnow()
    result = session.execute(
        update(Challenge)
        .where(
            Challenge.id == challenge_id,
            Challenge.user_id == user_id,
            Challenge.used_at.is_(None),
            Challenge.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        prompted = session.scalar(select(Challenge.digits).where(Challenge.id == challenge_id)) or ""
        return Consumed.OK, [int(c) for c in prompted]
    row = session.get(Challenge, challenge_id, populate_existing=True)
    if row is None or row.user_id != user_id:
        return Consumed.UNKNOWN, []
    digits = [int(c) for c in row.digits]
    if row.used_at is not None:
        return Consumed.USED, digits
    return Consumed.EXPIRED, digits


def purge_expired(session: Session, user_id: uuid.UUID, now: datetime | None = None) -> int:
    """Delete the user's expired challenges that were never answered: nothing refers to them. Answered ones
    stay, as the challenge of their attempt."""
    stmt = delete(Challenge).where(
        Challenge.user_id == user_id, Challenge.used_at.is_(None), Challenge.expires_at <= (now or utcnow())
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
