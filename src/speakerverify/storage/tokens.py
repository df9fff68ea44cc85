"""Revoked access tokens: logout must hold for every process sharing the database."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .tables import RevokedToken, User, utcnow


def revoke(session: Session, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
    """Record ``jti`` as revoked; revoking twice is not an error (a retried logout)."""
    values = {"jti": jti, "user_id": user_id, "expires_at": expires_at, "revoked_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(RevokedToken).values(**values).on_conflict_do_nothing(index_elements=["jti"]))


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Forget revocations of tokens that have expired anyway (they fail signature checks)."""
    result = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < (now or utcnow())))
    return int(result.rowcount)  # type: ignore[attr-defined]


# Built once: constructing the select costs three times what SQLite takes to run it (0.85 ms a check through a
# Session and a fresh select, 0.2 ms like this), and the check runs on every authenticated request.
_ACTIVE_USER = select(User.id).where(
    User.id == bindparam("user_id"),
    User.token_generation == bindparam("generation"),
    ~select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).exists(),
)


def active_user(session: Session | Connection, user_id: uuid.UUID, jti: str, generation: int = 0) -> uuid.UUID | None:
    """The id of the user a validly signed token speaks for, or None if the user is gone or the token revoked
    (logged out, or issued before the last password change: another ``generation``).

    One query, run on every authenticated request: the id only (loading the user's row as an ORM object
    costs more than the query); a Core ``Connection`` (``Database.read_connection``) skips the ORM.
    """
    params = {"user_id": user_id, "generation": generation, "jti": jti}
    result: uuid.UUID | None = session.execute(_ACTIVE_USER, params).scalar()
    return result


def revoked_for_user(session: Session, user_id: uuid.UUID) -> list[RevokedToken]:
    return list(session.scalars(select(RevokedToken).where(RevokedToken.user_id == user_id)))
