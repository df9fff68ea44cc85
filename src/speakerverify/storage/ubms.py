"""UBMs stored in the database, so that every worker scores against the same background model."""

from __future__ import annotations

import io

from sqlalchemy.orm import Session

from ..models.io import load_gmm, save_gmm
from ..models.ubm import UBM
from .rows import insert_if_missing
from .tables import Ubm


def put_ubm(session: Session, ubm: UBM) -> Ubm:
    """Store ``ubm`` unless a UBM with its id is already there (ids name immutable models).

    Several processes starting together on a fresh database all insert the shipped UBM: the insert
    runs under a savepoint, and a loser of that race reads the winner's (identical) row.
    """
    row = session.get(Ubm, ubm.ubm_id)
    if row is not None:
        return row
    buf = io.BytesIO()
    save_gmm(buf, ubm.gmm, ubm.meta)

    def new() -> Ubm:
        return Ubm(
            id=ubm.ubm_id,
            config_id=ubm.config_id,
            post_id=ubm.post_id,
            n_components=int(ubm.gmm.means.shape[0]),
            dim=int(ubm.gmm.means.shape[1]),
            arrays=buf.getvalue(),
            meta=dict(ubm.meta),
        )

    insert_if_missing(session, new)
    row = session.get(Ubm, ubm.ubm_id, populate_existing=True)
    assert row is not None
    return row


def get_ubm(session: Session, ubm_id: str) -> UBM | None:
    row = session.get(Ubm, ubm_id)
    if row is None:
        return None
    gmm, meta = load_gmm(io.BytesIO(row.arrays))
    return UBM(gmm, meta)


def list_ubms(session: Session) -> list[Ubm]:
    """Stored UBM rows (arrays included), oldest first."""
    from sqlalchemy import select

    return list(session.scalars(select(Ubm).order_by(Ubm.created_at, Ubm.id)))
