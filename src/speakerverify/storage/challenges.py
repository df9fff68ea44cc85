"""Challenges: prompted digit sequences, single-use, expiring, bound to one user, visible to every worker."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from .tables import Challenge, utcnow


def create_challenge(session: Session, user_id: uuid.UUID, digits: list[int], expires_at: datetime) -> Challenge:
    row = Challenge(user_id=user_id, digits="".join(str(d) for d in digits), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


# The statements of every challenge and answer, built once with bind parameters: building a statement
# costs more CPU than SQLite takes to run it (0.2-0.7 ms each, ~25 statements a verification).
_INSERT = insert(cast(Table, Challenge.__table__))
_PENDING = select(Challenge.user_id, Challenge.digits, Challenge.used_at, Challenge.expires_at).where(
    Challenge.id == bindparam("challenge_id")
)
_CONSUME = (
    update(Challenge)
    .where(
        Challenge.id == bindparam("challenge_id"),
        Challenge.user_id == bindparam("b_user_id"),  # an UPDATE's parameters must not be named as columns
        Challenge.used_at.is_(None),
        Challenge.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(Challenge.digits)  # one statement: the digits come back with the update
    .execution_options(synchronize_session=False)
)


def insert_challenge(session: Session, user_id: uuid.UUID, digits: list[int], expires_at: datetime) -> uuid.UUID:
    """``create_challenge`` as one INSERT without an ORM object (the challenge route's hot path); its id."""
    challenge_id = uuid.uuid4()
    values = {"id": challenge_id, "user_id": user_id, "digits": "".join(str(d) for d in digits)}
    session.execute(_INSERT, {**values, "expires_at": expires_at})
    return challenge_id


class Pending(NamedTuple):
    """What an answer needs of its challenge, read as plain columns (no ORM object)."""

    user_id: uuid.UUID
    digits: str
    used_at: datetime | None
    expires_at: datetime


def pending(session: Session, challenge_id: uuid.UUID) -> Pending | None:
    """The challenge's owner, digits and state, or None if there is no such challenge."""
    row = session.execute(_PENDING, {"challenge_id": challenge_id}).first()
    return None if row is None else Pending(*row)


class Consumed(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such challenge, or another user's: indistinguishable on purpose
    USED = "used"
    EXPIRED = "expired"


def consume_challenge(session: Session, challenge_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Consumed, list[int]]:
    """Mark the user's challenge used, atomically: of concurrent answers exactly one gets ``OK``.

    The conditional UPDATE is the whole check, so it holds across processes on both databases.
    """
    params = {"challenge_id": challenge_id, "b_user_id": user_id, "now": utcnow()}
    consumed = session.execute(_CONSUME, params).scalar_one_or_none()
    if consumed is not None:
        return Consumed.OK, [int(c) for c in consumed]
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
