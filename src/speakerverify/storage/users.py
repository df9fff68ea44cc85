"""The users aggregate: creating, finding and erasing accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .tables import User, utcnow


class DuplicateUser(Exception):
    """The email or the alias is already taken; ``field`` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} already registered")
        self.field = field


@dataclass(frozen=True)
class NewUser:
    email: str  # already normalised by the caller
    password_hash: str
    alias: str
    gender: str | None
    age_group: str | None
    data_statement_version: str


def alias_key(alias: str) -> str:
    """The form in which aliases must be unique: case-insensitive."""
    return alias.casefold()


def create_user(session: Session, new: NewUser, now: datetime | None = None) -> User:
    """Insert a user; raises ``DuplicateUser`` (also when a concurrent request won the race)."""
    if session.scalar(select(User.id).where(User.email == new.email)) is not None:
        raise DuplicateUser("email")
    if session.scalar(select(User.id).where(User.alias_key == alias_key(new.alias))) is not None:
        raise DuplicateUser("alias")
    user = User(
        email=new.email,
        password_hash=new.password_hash,
        alias=new.alias,
        alias_key=alias_key(new.alias),
        gender=new.gender,
        age_group=new.age_group,
        data_statement_version=new.data_statement_version,
        consented_at=now or utcnow(),
    )
    # The checks above are only for a precise message; the unique constraints are what hold
    # under concurrency, so a lost race surfaces here as an IntegrityError.
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        field = "alias" if "alias" in str(exc.orig).lower() else "email"
        raise DuplicateUser(field) from exc
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def lock_user(session: Session, user_id: uuid.UUID) -> bool:
    """Take the user's row lock for the rest of the transaction; False if there is no such user.

    Serialises every change to one user's enrolment across processes: under READ COMMITTED a writer
    that read the takes before another writer committed would otherwise store a model missing a take.
    """
    found = session.execute(select(User.id).where(User.id == user_id).with_for_update()).first()
    return found is not None


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def set_password_hash(session: Session, user_id: uuid.UUID, password_hash: str) -> None:
    user = session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.password_hash = password_hash


def delete_user(session: Session, user_id: uuid.UUID) -> bool:
    """Erase the user; every dependent row goes with it (ON DELETE CASCADE). False if absent."""
    result = session.execute(delete(User).where(User.id == user_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_consent_model_training(session: Session, user_id: uuid.UUID, consent: bool) -> None:
    """Record whether the user's takes may train the deployment's background model."""
    user = session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.consent_model_training = consent


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.alias_key)))
