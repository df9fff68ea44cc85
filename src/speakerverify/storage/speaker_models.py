"""Speaker model rows: which UBM and noisy copies a user's model follows, whether it is ready, and the
version every change to the user's takes bumps (``touch_model``, under a row lock, in the caller's write
transaction). The model itself is derived from the takes (``voice.runtime``); the statistics blob
(``encode_model``) is what rows stored before migration 0013, still decodable for old exports and tests.
"""

from __future__ import annotations

import json
import struct
import uuid

import numpy as np
from sqlalchemy import Integer, bindparam, delete, func, select
from sqlalchemy.orm import Session

from ..models.speaker import SpeakerModel
from .arrays import decode_npz
from .rows import get_or_create
from .tables import SpeakerModelRow, utcnow

_MAGIC = b"SVS2"


def encode_model(model: SpeakerModel) -> bytes:
    """The statistics as occupancies n and per-component means f / n, float32: ~380 KB for 10 digits x
    256 x 36, half of float64 sums, read without parsing (no zip, no compression).

    float32, not float16: each enrolment rounds the stored means again, and at float16 those roundings
    add up as a random walk (0.1 feature units after 600 takes); at float32 they stay ~1e-5.
    """
    n = np.maximum(model.n, 0.0)
    occupied = n > 0
    means = np.divide(model.f, n[..., None], out=np.zeros_like(model.f), where=occupied[..., None])
    header = json.dumps({"kind": "speaker-stats", "shape": list(model.f.shape)}).encode()
    return b"".join(
        [
            _MAGIC,
            struct.pack("<I", len(header)),
            header,
            model.takes.astype("<i4").tobytes(),
            n.astype("<f4").tobytes(),
            means.astype("<f4").tobytes(),
        ]
    )


def decode_model(blob: bytes) -> SpeakerModel:
    """What ``encode_model`` wrote, or the float64 npz kept by earlier versions."""
    if not blob.startswith(_MAGIC):
        arrays, _meta = decode_npz(blob)
        return SpeakerModel(arrays["n"], arrays["f"], arrays["takes"])
    (size,) = struct.unpack_from("<I", blob, len(_MAGIC))
    start = len(_MAGIC) + 4
    digits, components, dim = json.loads(blob[start : start + size])["shape"]
    start += size
    takes = np.frombuffer(blob, "<i4", digits, start).astype(np.int64)
    start += 4 * digits
    n = np.frombuffer(blob, "<f4", digits * components, start).astype(np.float64).reshape(digits, components)
    start += 4 * digits * components
    means = np.frombuffer(blob, "<f4", digits * components * dim, start).astype(np.float64)
    return SpeakerModel(n, n[..., None] * means.reshape(digits, components, dim), takes)


def get_model(session: Session, user_id: uuid.UUID, for_update: bool = False) -> SpeakerModelRow | None:
    stmt = select(SpeakerModelRow).where(SpeakerModelRow.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def touch_model(
    session: Session,
    user_id: uuid.UUID,
    ubm_id: str,
    ready: bool,
    copies_id: str | None = None,
    rebase: bool = False,
) -> SpeakerModelRow:
    """Record a change to the user's takes: bump the row's version (every worker's cached model of the user,
    derived from the takes, is stale from then on) and set ``ready``; the row is created if missing.

    Must run inside a write transaction; concurrent callers are serialised by the row lock (``FOR UPDATE``
    on PostgreSQL, the write lock on SQLite), and the versioned UPDATE fails loudly if one slipped past it.
    A row kept against another UBM or other noisy copies is a ``ValueError`` unless ``rebase`` (the
    derived model then follows the new UBM and copies; ``app.enrolment.ensure_current``).
    """
    row = get_or_create(
        session,
        lambda: get_model(session, user_id, for_update=True),
        lambda: SpeakerModelRow(user_id=user_id, ubm_id=ubm_id, copies_id=copies_id, stats=None, ready=ready),
    )
    if not rebase and row.ubm_id != ubm_id:
        raise ValueError(f"speaker model is kept against UBM {row.ubm_id!r}, not {ubm_id!r}")
    if not rebase and row.copies_id != copies_id:
        raise ValueError(f"speaker model holds copies {row.copies_id!r}, not {copies_id!r}")
    row.ubm_id, row.copies_id, row.ready = ubm_id, copies_id, ready
    row.stats = None  # statistics a row kept from before 0013 no longer match the takes
    row.updated_at = utcnow()  # a change even when nothing else changed: the version is bumped
    session.flush()  # the versioned UPDATE runs here: StaleDataError if another writer got in
    return row


def model_version(session: Session, user_id: uuid.UUID) -> tuple[int, str, str | None] | None:
    """(version, ubm_id, copies_id) of the user's model without loading its statistics; None if there is none."""
    row = session.execute(
        select(SpeakerModelRow.version, SpeakerModelRow.ubm_id, SpeakerModelRow.copies_id).where(
            SpeakerModelRow.user_id == user_id
        )
    ).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]), None if row[2] is None else str(row[2]))


def ready_user_ids(session: Session, exclude: uuid.UUID | None = None, limit: int | None = None) -> list[uuid.UUID]:
    """Users whose models are ready, in a stable order (by id)."""
    stmt = select(SpeakerModelRow.user_id).where(SpeakerModelRow.ready.is_(True)).order_by(SpeakerModelRow.user_id)
    if exclude is not None:
        stmt = stmt.where(SpeakerModelRow.user_id != exclude)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


# Built once (twice per verification: the challenge's and the answer's calibration read; building a select
# cost more than running it).
_READY = SpeakerModelRow.ready.is_(True)
_AFTER = (
    select(SpeakerModelRow.user_id)
    .where(_READY, SpeakerModelRow.user_id > bindparam("user_id"))
    .order_by(SpeakerModelRow.user_id)
    .limit(bindparam("limit", type_=Integer))
)
_BEFORE = (
    select(SpeakerModelRow.user_id)
    .where(_READY, SpeakerModelRow.user_id < bindparam("user_id"))
    .order_by(SpeakerModelRow.user_id)
    .limit(bindparam("limit", type_=Integer))
)
_COUNT_READY = select(func.count()).select_from(SpeakerModelRow).where(SpeakerModelRow.ready)


def cohort_ids(session: Session, user_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """The calibration cohort of ``user_id``: the ``limit`` ready users whose ids follow it, wrapping round
    to the smallest ids. User ids are random (uuid4), so this is a hash ring: a user who joins enters the
    cohorts of the ~``limit`` users just before it and no other (the rule "the first ``limit`` by id"
    changed every user's cohort whenever a new id sorted early). Two index range reads of ``limit`` entries.
    """
    found = list(session.scalars(_AFTER, {"user_id": user_id, "limit": limit}))
    if len(found) < limit:
        found += session.scalars(_BEFORE, {"user_id": user_id, "limit": limit - len(found)})
    return found


def count_ready(session: Session) -> int:
    return int(session.scalar(_COUNT_READY) or 0)


def delete_model(session: Session, user_id: uuid.UUID) -> None:
    session.execute(delete(SpeakerModelRow).where(SpeakerModelRow.user_id == user_id))
