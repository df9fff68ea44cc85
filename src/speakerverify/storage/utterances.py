"""Enrolment utterances: Meyda frames as the browser sent them, and enrolment progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models.speaker import N_DIGITS
from .arrays import decode_f32
from .tables import Utterance

# Ready to verify once every digit has this many takes (the README's enrolment protocol uses 6).


_F16 = np.dtype("<f2")


def as_stored(mfcc: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames as a take stores them, back as float32: MFCCs (T, n_mfcc) rounded to float16 and
    energies (T,) kept as float16 ln(1 + energy), the precision of the binary wire form (features/wire.py)
    every browser sends, so for those takes nothing is lost. Enrolment computes the take's statistics
    and fingerprint from these, so a model rebuilt from the stored takes is the model enrolment built.
    A value beyond float16's range (only a crafted JSON take has one) becomes inf: the caller refuses
    frames that are not finite before anything else looks at them."""
    with np.errstate(over="ignore"):
        mfcc16 = np.asarray(mfcc, dtype=np.float32).astype(_F16)
        log16 = np.log1p(np.asarray(energy, dtype=np.float32)).astype(_F16)
        return mfcc16.astype(np.float32), np.expm1(log16.astype(np.float32))


def add_utterance(
    session: Session, user_id: uuid.UUID, digit: int, config_id: str, mfcc: np.ndarray, energy: np.ndarray
) -> Utterance:
    """Store one take. mfcc: (T, n_mfcc), energy: (T,): float16 blobs (``as_stored``), half of float32."""
    mfcc = np.asarray(mfcc)
    energy = np.asarray(energy)
    if mfcc.ndim != 2 or energy.shape != (mfcc.shape[0],) or mfcc.shape[0] == 0:
        raise ValueError(f"need mfcc (T, n) and energy (T,) with T > 0, got {mfcc.shape} and {energy.shape}")
    if not 0 <= digit < N_DIGITS:
        raise ValueError(f"digit must be 0-9, got {digit}")
    row = Utterance(
        user_id=user_id,
        digit=digit,
        config_id=config_id,
        n_frames=int(mfcc.shape[0]),
        n_mfcc=int(mfcc.shape[1]),
        mfcc=np.ascontiguousarray(mfcc, dtype=np.float32).astype(_F16).tobytes(),
        energy=np.log1p(np.asarray(energy, dtype=np.float32)).astype(_F16).tobytes(),
    )
    session.add(row)
    session.flush()
    return row


def utterance_arrays(row: Utterance) -> tuple[np.ndarray, np.ndarray]:
    """(mfcc (T, n_mfcc) float32, energy (T,) float32) of a stored take: float16 (``add_utterance``), or
    float32 as stored before (told apart by the blob's length: 2 or 4 bytes a value)."""
    return decode_arrays(row.mfcc, row.energy, row.n_frames, row.n_mfcc)


def decode_arrays(mfcc: bytes, energy: bytes, n_frames: int, n_mfcc: int) -> tuple[np.ndarray, np.ndarray]:
    """``utterance_arrays`` from the columns (also for migrations and exports reading raw rows)."""
    if len(mfcc) == 2 * n_frames * n_mfcc:
        m = np.frombuffer(mfcc, dtype=_F16).reshape(n_frames, n_mfcc).astype(np.float32)
    else:
        m = decode_f32(mfcc, (n_frames, n_mfcc))
    if len(energy) == 2 * n_frames:
        return m, np.expm1(np.frombuffer(energy, dtype=_F16).astype(np.float32))
    return m, decode_f32(energy, (n_frames,))


def list_utterances(session: Session, user_id: uuid.UUID) -> list[Utterance]:
    return list(session.scalars(select(Utterance).where(Utterance.user_id == user_id).order_by(Utterance.id)))


@dataclass(frozen=True)
class EnrolmentProgress:
    takes_per_digit: tuple[int, ...]  # index = digit
    required_per_digit: int

    @property
    def percent(self) -> int:
        """Share of the required takes present, counting no digit beyond its requirement."""
        have = sum(min(t, self.required_per_digit) for t in self.takes_per_digit)
        return int(100 * have // (self.required_per_digit * N_DIGITS))

    @property
    def ready(self) -> bool:
        return all(t >= self.required_per_digit for t in self.takes_per_digit)


def enrolment_progress(
    session: Session, user_id: uuid.UUID, required_per_digit: int, suspect_too: bool = False
) -> EnrolmentProgress:
    """Takes of every digit; a suspect take counts for nothing unless ``suspect_too``."""
    stmt = select(Utterance.digit, func.count()).where(Utterance.user_id == user_id)
    if not suspect_too:
        stmt = stmt.where(Utterance.suspect_digit.is_(None))
    rows = session.execute(stmt.group_by(Utterance.digit))
    counts = {int(digit): int(n) for digit, n in rows}
    return EnrolmentProgress(tuple(int(counts.get(d, 0)) for d in range(N_DIGITS)), required_per_digit)


def get_utterance(
    session: Session, user_id: uuid.UUID, utterance_id: int, for_update: bool = False
) -> Utterance | None:
    """The user's take with this id; None for an unknown id or another user's take alike."""
    stmt = select(Utterance).where(Utterance.id == utterance_id, Utterance.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def delete_utterances(session: Session, user_id: uuid.UUID) -> int:
    result = session.execute(delete(Utterance).where(Utterance.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def takes_of_users(session: Session, user_ids: list[uuid.UUID], per_digit: int) -> dict[uuid.UUID, list[Utterance]]:
    """Up to ``per_digit`` oldest takes of every digit for each user, suspect takes left out."""
    found: dict[uuid.UUID, list[Utterance]] = {u: [] for u in user_ids}
    if not user_ids:
        return found
    counts: dict[tuple[uuid.UUID, int], int] = {}
    rows = session.scalars(
        select(Utterance)
        .where(Utterance.user_id.in_(user_ids), Utterance.suspect_digit.is_(None))
        .order_by(Utterance.id)
    )
    for row in rows:
        key = (row.user_id, row.digit)
        if counts.get(key, 0) < per_digit:
            counts[key] = counts.get(key, 0) + 1
            found[row.user_id].append(row)
    return found


def takes_not_in(session: Session, user_id: uuid.UUID, digits: list[int], known: frozenset[int]) -> list[Utterance]:
    """The user's takes of ``digits`` whose ids are not in ``known``: their ids are read first (index
    user_id, digit), the rows only if there are any."""
    ids = set(session.scalars(select(Utterance.id).where(Utterance.user_id == user_id, Utterance.digit.in_(digits))))
    missing = sorted(ids - known)
    if not missing:
        return []
    return list(session.scalars(select(Utterance).where(Utterance.id.in_(missing)).order_by(Utterance.id)))
