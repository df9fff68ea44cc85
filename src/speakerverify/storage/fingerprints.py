"""Replay templates of a user's enrolment takes and verification segments (``models.replay``; variable
length, about 24 bytes per speech frame)."""

from __future__ import annotations

import uuid
from typing import cast

import numpy as np
from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import replay
from .tables import ReplayFingerprint, VerificationAttempt, utcnow


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


# The answer path's statements, built once with bind parameters (building one cost more than running it).
_FP = ReplayFingerprint
_INSERT = insert(cast(Table, _FP.__table__))  # Core: no ORM bulk-insert path
_OF_USER = select(_FP.id, _FP.digit, _FP.fingerprint).where(_FP.user_id == bindparam("user_id"))
_OF_DIGITS = _OF_USER.where(_FP.digit.in_(bindparam("digits", expanding=True)))
_IDS_OF_DIGITS = select(_FP.id).where(
    _FP.user_id == bindparam("user_id"), _FP.digit.in_(bindparam("digits", expanding=True))
)
_BY_IDS = select(_FP.digit, _FP.fingerprint).where(_FP.id.in_(bindparam("ids", expanding=True)))


def add_many(
    session: Session, user_id: uuid.UUID, digits: list[int], fps: list[np.ndarray], challenge_id: uuid.UUID
) -> None:
    """The fingerprints of one answer's segments, in one statement."""
    now = utcnow()
    session.execute(
        _INSERT,
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


def user_fingerprints_with_ids(
    session: Session, user_id: uuid.UUID, digits: list[int] | None = None
) -> tuple[list[np.ndarray], np.ndarray, set[int]]:
    """The user's stored templates (N of them: answers'; takes' are derived from the takes, not stored
    since migration 0013), of ``digits`` only if given; their digits (N,); and their ids, so that a later
    transaction can fetch only what was added since (``fingerprints_not_in``)."""
    if digits is None:
        rows = session.execute(_OF_USER, {"user_id": user_id}).all()
    else:
        rows = session.execute(_OF_DIGITS, {"user_id": user_id, "digits": list(digits)}).all()
    fps = replay.decode_many([blob for _, _, blob in rows]) if rows else []  # a user with no answers yet
    return fps, np.array([int(d) for _, d, _ in rows], dtype=int), {int(i) for i, _, _ in rows}


def fingerprints_not_in(
    session: Session, user_id: uuid.UUID, digits: list[int], seen: set[int]
) -> tuple[list[np.ndarray], np.ndarray]:
    """The user's stored templates of ``digits`` whose ids are not in ``seen``, and their digits (ids
    only are scanned first; ids are not committed in order on PostgreSQL, so "above the largest seen"
    could miss one). (N templates, (N,))"""
    ids = set(session.scalars(_IDS_OF_DIGITS, {"user_id": user_id, "digits": list(digits)})) - seen
    if not ids:
        return [], np.zeros(0, dtype=int)
    rows = session.execute(_BY_IDS, {"ids": sorted(ids)}).all()
    return replay.decode_many([b for _, b in rows]), np.array([int(d) for d, _ in rows], dtype=int)


def prune_answers(session: Session, user_id: uuid.UUID, keep_per_digit: int) -> int:
    """Delete the user's answer fingerprints beyond the newest ``keep_per_digit`` of each digit, counted
    apart for accepted answers and for the others (take fingerprints stay with their takes); 0 keeps all.

    Apart, because every answer is fingerprinted and anyone holding the password can answer: counted
    together, rejected answers would push a captured accepted answer out of the check, and it could then
    be replayed (SECURITY.md "Replay fingerprints under retention"). One statement over the user's rows
    (index user_id, digit), so an answer's replay check reads at most takes + 2 x ``keep_per_digit``
    templates a digit however long the user has been verifying. Returns the rows deleted."""
    if keep_per_digit <= 0:
        return 0
    accepted = (
        select(VerificationAttempt.challenge_id)
        .where(VerificationAttempt.user_id == user_id, VerificationAttempt.decision == "accept")
        .subquery()
    )
    group = accepted.c.challenge_id.is_(None)  # no accepted attempt (yet): the answer being settled, or rejected
    rank = (
        func.row_number()
        .over(partition_by=(ReplayFingerprint.digit, group), order_by=ReplayFingerprint.id.desc())
        .label("rank")
    )
    ranked = (
        select(ReplayFingerprint.id, rank)
        .select_from(ReplayFingerprint)
        .outerjoin(accepted, accepted.c.challenge_id == ReplayFingerprint.challenge_id)
        .where(ReplayFingerprint.user_id == user_id, ReplayFingerprint.challenge_id.is_not(None))
        .subquery()
    )
    old = select(ranked.c.id).where(ranked.c.rank > keep_per_digit)
    result = session.execute(delete(ReplayFingerprint).where(ReplayFingerprint.id.in_(old)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
