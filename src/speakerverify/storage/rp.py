"""Relying-party rows: applications, their subjects, browser sessions, signed results, signing keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .rows import insert_if_missing
from .tables import (
    RpApplication,
    RpResult,
    RpSession,
    RpSubject,
    SigningKey,
    User,
    VerificationAttempt,
    VerificationLockout,
    utcnow,
)

# --- applications ---------------------------------------------------------------------------------


def add_application(
    session: Session, client_id: str, name: str, secret_sha256: str, origins: list[str]
) -> RpApplication:
    row = RpApplication(client_id=client_id, name=name, secret_sha256=secret_sha256, origins=origins)
    session.add(row)
    session.flush()
    return row


def find_application(session: Session, client_id: str) -> RpApplication | None:
    return session.scalar(select(RpApplication).where(RpApplication.client_id == client_id))


def list_applications(session: Session) -> list[RpApplication]:
    return list(session.scalars(select(RpApplication).order_by(RpApplication.created_at, RpApplication.client_id)))


def all_origins(session: Session) -> set[str]:
    """Every origin some application allows (for CORS preflights)."""
    return {o for origins in session.scalars(select(RpApplication.origins)) for o in origins}


def delete_application(session: Session, app_id: uuid.UUID) -> None:
    """Erase the application and its subjects' users rows (and so all of their voice data)."""
    subject_users = select(RpSubject.user_id).where(RpSubject.app_id == app_id)
    session.execute(delete(User).where(User.id.in_(subject_users)))
    session.execute(delete(RpApplication).where(RpApplication.id == app_id))


def count_session(session: Session, app_id: uuid.UUID) -> None:
    session.execute(
        update(RpApplication)
        .where(RpApplication.id == app_id)
        .values(sessions_created=RpApplication.sessions_created + 1)
    )


@dataclass(frozen=True)
class AppStats:
    accepts: int
    rejects: int
    locks: int
    subjects: int


def application_stats(session: Session, app_id: uuid.UUID) -> AppStats:
    """Decisions in the audit log and locks imposed, over the application's current subjects."""
    users_of_app = select(RpSubject.user_id).where(RpSubject.app_id == app_id)
    decisions = dict(
        session.execute(
            select(VerificationAttempt.decision, func.count())
            .where(VerificationAttempt.user_id.in_(users_of_app))
            .group_by(VerificationAttempt.decision)
        ).all()
    )
    locks = session.scalar(
        select(func.coalesce(func.sum(VerificationLockout.level), 0)).where(
            VerificationLockout.user_id.in_(users_of_app)
        )
    )
    subjects = session.scalar(select(func.count()).select_from(RpSubject).where(RpSubject.app_id == app_id))
    return AppStats(
        int(decisions.get("accept", 0)), int(decisions.get("reject", 0)), int(locks or 0), int(subjects or 0)
    )


# --- subjects -------------------------------------------------------------------------------------


def find_subject(session: Session, app_id: uuid.UUID, subject: str) -> RpSubject | None:
    return session.scalar(select(RpSubject).where(RpSubject.app_id == app_id, RpSubject.subject == subject))


def subject_of_user(session: Session, user_id: uuid.UUID) -> RpSubject | None:
    return session.get(RpSubject, user_id)


def add_subject(session: Session, app_id: uuid.UUID, subject: str, user: User) -> RpSubject:
    """The subject's row, inserted with its users row; a concurrent first use wins and is returned."""

    try:
        with session.begin_nested():  # the users row first: the subject row references it
            session.add(user)
            session.flush()
            session.add(RpSubject(user_id=user.id, app_id=app_id, subject=subject))
    except IntegrityError:  # the same subject created at the same moment by another request: only the
        pass  # savepoint rolls back, and the winner's row is read below
    found = find_subject(session, app_id, subject)
    assert found is not None
    return found


def subject_labels(session: Session) -> dict[uuid.UUID, str]:
    """``client_id:subject`` for every subject's users row (the operator's audit view)."""
    rows = session.execute(
        select(RpSubject.user_id, RpApplication.client_id, RpSubject.subject).join(
            RpApplication, RpApplication.id == RpSubject.app_id
        )
    )
    return {user_id: f"{client_id}:{subject}" for user_id, client_id, subject in rows}


# --- sessions -------------------------------------------------------------------------------------


def add_session(session: Session, row: RpSession) -> None:
    session.add(row)


def find_session(session: Session, token_sha256: str) -> tuple[RpSession, RpApplication] | None:
    found = session.execute(
        select(RpSession, RpApplication)
        .join(RpApplication, RpApplication.id == RpSession.app_id)
        .where(RpSession.token_sha256 == token_sha256)
    ).first()
    return None if found is None else (found[0], found[1])


def purge_sessions(session: Session, now: datetime | None = None) -> int:
    result = session.execute(delete(RpSession).where(RpSession.expires_at < (now or utcnow())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- results --------------------------------------------------------------------------------------


def add_result(session: Session, row: RpResult) -> None:
    session.add(row)


def take_result(session: Session, app_id: uuid.UUID, jti: str, now: datetime) -> RpResult | None:
    """The application's result ``jti``, marked fetched; None if unknown, another's, fetched or expired.

    A conditional UPDATE, so of two concurrent fetches exactly one gets the result."""
    taken = session.execute(
        update(RpResult)
        .where(RpResult.jti == jti, RpResult.app_id == app_id, RpResult.fetched_at.is_(None), RpResult.expires_at > now)
        .values(fetched_at=now)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return None
    return session.get(RpResult, jti)


def purge_results(session: Session, now: datetime | None = None) -> int:
    result = session.execute(delete(RpResult).where(RpResult.expires_at < (now or utcnow())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- signing keys ---------------------------------------------------------------------------------


def active_key(session: Session) -> SigningKey | None:
    """The newest key not being retired: the one results are signed with."""
    stmt = select(SigningKey).where(SigningKey.retires_at.is_(None)).order_by(SigningKey.created_at.desc()).limit(1)
    return session.scalar(stmt)


def published_keys(session: Session, now: datetime) -> list[SigningKey]:
    """Keys whose signatures may still be presented: active ones and those retiring later than ``now``."""
    stmt = select(SigningKey).where((SigningKey.retires_at.is_(None)) | (SigningKey.retires_at > now))
    return list(session.scalars(stmt.order_by(SigningKey.created_at.desc())))


def add_key(session: Session, row: SigningKey) -> bool:
    return insert_if_missing(session, lambda: row)


def retire_keys(session: Session, except_kid: str, retires_at: datetime, now: datetime) -> int:
    """Schedule every other active key's retirement; forget keys already retired."""
    session.execute(delete(SigningKey).where(SigningKey.retires_at.is_not(None), SigningKey.retires_at <= now))
    result = session.execute(
        update(SigningKey)
        .where(SigningKey.kid != except_kid, SigningKey.retires_at.is_(None))
        .values(retires_at=retires_at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
