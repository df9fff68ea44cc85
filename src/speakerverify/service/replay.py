"""Replay and splice detection for verification segments (the maths is in ``models.replay``).

Every enrolment take and every verification segment leaves a 768-byte fingerprint. A segment whose
fingerprint is within ``REPLAY_THRESHOLD`` of anything already seen for the user (their stored takes,
their earlier segments) is a replay: natural repetitions of a digit are never that close (FSDD: the
closest pair of different takes of one speaker is 2.3, see RELIABILITY.md). A response spliced from the
user's own stored takes is caught the same way, segment by segment.
"""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy.orm import Session

from ..models import replay
from ..storage import fingerprints, lockouts


def record_take(
    session: Session, user_id: uuid.UUID, utterance_id: int, digit: int, mfcc: np.ndarray, energy: np.ndarray
) -> None:
    """Keep the fingerprint of a stored enrolment take (same transaction as the take)."""
    fingerprints.add(session, user_id, digit, replay.fingerprint(mfcc, energy), utterance_id=utterance_id)


def check_and_record(
    session: Session,
    user_id: uuid.UUID,
    challenge_id: uuid.UUID,
    digits: list[int],
    arrays: list[tuple[np.ndarray, np.ndarray]],
    threshold: float = replay.REPLAY_THRESHOLD,
) -> list[float]:
    """Distance of each segment to the nearest fingerprint already seen for the user; records the segments.

    Runs under the user's lockout-row lock, so two concurrent answers carrying the same segment cannot both
    pass: the second sees the first's fingerprint. A segment is a replay when its distance < threshold.
    """
    # Serialised per user on the lockout row (not the users row: FOR UPDATE there would conflict with the
    # KEY SHARE locks that inserting the attempt takes on PostgreSQL, and deadlock with settle()).
    lockouts.lockout_for_update(session, user_id)
    seen = fingerprints.user_fingerprints(session, user_id)
    out = []
    for digit, (mfcc, energy) in zip(digits, arrays, strict=True):
        fp = replay.fingerprint(mfcc, energy)
        out.append(replay.nearest(fp, seen))
        fingerprints.add(session, user_id, digit, fp, challenge_id=challenge_id)
    return out
