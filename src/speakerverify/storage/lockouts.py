"""Database-held counters for brute-force defences: verification lockouts and login rate limits.

Every worker reads and writes the same rows inside write transactions (row locks on PostgreSQL,
the write lock on SQLite), so the limits hold however many processes serve the API.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from .rows import get_or_create, insert_if_missing
from .tables import RateLimit, VerificationLockout, utcnow


def get_lockout(session: Session, user_id: uuid.UUID, for_update: bool = False) -> VerificationLockout | None:
    stmt = select(VerificationLockout).where(VerificationLockout.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


@dataclass
class LockoutState:
    """A user's lockout counters as plain values (``VerificationLockout``'s columns), changed by the caller
    and written back with ``save_lockout``."""

    failures: int
    level: int
    locked_until: datetime | None


_LOCK = (
    select(VerificationLockout.failures, VerificationLockout.level, VerificationLockout.locked_until)
    .where(VerificationLockout.user_id == bindparam("user_id"))
    .with_for_update()
)  # built once (the answer's hot path; building costs more than running it)
_SAVE = (
    update(VerificationLockout)
    .where(VerificationLockout.user_id == bindparam("b_user_id"))  # an UPDATE's parameters: not column names
    .values(failures=bindparam("b_failures"), level=bindparam("b_level"), locked_until=bindparam("b_locked_until"))
)


def lock_lockout(session: Session, user_id: uuid.UUID) -> LockoutState:
    """The user's lockout counters, the row locked (``FOR UPDATE`` on PostgreSQL; SQLite's write transaction
    holds the database), created with zero counts if missing. Plain columns, no ORM object: the answer's hot
    path."""
    row = session.execute(_LOCK, {"user_id": user_id}).first()
    if row is None:
        insert_if_missing(session, lambda: VerificationLockout(user_id=user_id, failures=0, level=0))
        row = session.execute(_LOCK, {"user_id": user_id}).one()
    return LockoutState(int(row.failures), int(row.level), row.locked_until)


def save_lockout(session: Session, user_id: uuid.UUID, state: LockoutState) -> None:
    """Write ``state`` back to the row ``lock_lockout`` locked in this transaction."""
    values = {"b_failures": state.failures, "b_level": state.level, "b_locked_until": state.locked_until}
    session.execute(_SAVE, {"b_user_id": user_id, **values})


def rate_key(scope: str, value: str) -> str:
    """Counters are keyed by a hash: no email address or client address is stored in clear."""
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()


def rate_for_update(session: Session, key: str, window: timedelta, now: datetime | None = None) -> RateLimit:
    """The counter for ``key`` in its current window (a new window starts at zero), locked."""
    now = now or utcnow()
    stmt = select(RateLimit).where(RateLimit.key == key).with_for_update()
    row = get_or_create(session, lambda: session.scalar(stmt), lambda: RateLimit(key=key, window_start=now, count=0))
    if row.window_start + window <= now:
        row.window_start, row.count = now, 0
    return row


def purge_rates(session: Session, window: timedelta, now: datetime | None = None) -> int:
    """Forget counters whose window ended."""
    cutoff = (now or utcnow()) - window
    result = session.execute(delete(RateLimit).where(RateLimit.window_start < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_rates(session: Session, key: str, prefix: bool = False) -> int:
    """Forget the counter ``key`` (or, with ``prefix``, every counter whose key starts with it)."""
    where = RateLimit.key.startswith(key, autoescape=True) if prefix else RateLimit.key == key
    result = session.execute(delete(RateLimit).where(where))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
