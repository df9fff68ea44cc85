"""Speaker models: per-digit sufficient statistics, updated under a row lock.

Every change is a read-modify-write of one row, done by ``update_model`` inside the caller's
write transaction: the row is locked (``FOR UPDATE`` on PostgreSQL; the write lock on SQLite)
and the ``version`` column makes any update that slipped past the lock fail loudly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models.speaker import SpeakerModel
from .arrays import decode_npz, encode_npz
from .tables import SpeakerModelRow


def encode_model(model: SpeakerModel) -> bytes:
    # float64: statistics are added to and subtracted from many times; float32 would drift.
    return encode_npz(
        {"n": model.n.astype(np.float64), "f": model.f.astype(np.float64), "takes": model.takes.astype(np.int64)},
        {"kind": "speaker-stats"},
    )


def decode_model(blob: bytes) -> SpeakerModel:
    arrays, _meta = decode_npz(blob)
    return SpeakerModel(arrays["n"], arrays["f"], arrays["takes"])


def get_model(session: Session, user_id: uuid.UUID, for_update: bool = False) -> SpeakerModelRow | None:
    stmt = select(SpeakerModelRow).where(SpeakerModelRow.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def update_model(
    session: Session,
    user_id: uuid.UUID,
    ubm_id: str,
    n_components: int,
    dim: int,
    change: Callable[[SpeakerModel], SpeakerModel],
) -> SpeakerModelRow:
    """Apply ``change`` to the user's model (an empty one if none exists) and store the result.

    Must run inside a write transaction; concurrent callers are serialised, none is lost.
    A model kept against another UBM is a ``ValueError``: its statistics do not add up with new ones.
    """
    row = get_model(session, user_id, for_update=True)
    if row is None:
        empty = SpeakerModel.empty(n_components, dim)
        try:
            with session.begin_nested():  # a concurrent first take may insert the row first
                session.add(SpeakerModelRow(user_id=user_id, ubm_id=ubm_id, stats=encode_model(empty)))
        except IntegrityError:
            pass
        row = get_model(session, user_id, for_update=True)
        assert row is not None
    if row.ubm_id != ubm_id:
        raise ValueError(f"speaker model is kept against UBM {row.ubm_id!r}, not {ubm_id!r}")
    row.stats = encode_model(change(decode_model(row.stats)))
    session.flush()  # the versioned UPDATE runs here: StaleDataError if another writer got in
    return row
