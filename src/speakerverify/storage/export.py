"""Everything stored about one user, as JSON-ready data (the right of access).

Generic over the schema: every table with a ``user_id`` column referencing ``users.id`` is
included, so a table added later cannot be forgotten here.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from .tables import Base, User
from .utterances import decode_arrays

# Stored, but handing it out would only help someone holding a stolen token crack the password.
WITHHELD = {"users": {"password_hash": "an argon2id hash of your password is stored; it is not exported"}}


def user_tables() -> list[Table]:
    """Tables holding rows that belong to a user (other than ``users`` itself). The relying-party tables
    (``rp_*``) are left out: only an application's subjects have rows there, and they have no export (their
    application erases them with ``DELETE /api/v1/rp/subjects/{subject}``; the rows go by cascade)."""
    return [
        t
        for t in Base.metadata.sorted_tables
        if "user_id" in t.c
        and any(fk.column.table.name == "users" for fk in t.c.user_id.foreign_keys)
        and not t.name.startswith("rp_")
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def _row_dict(table: Table, row: Any) -> dict[str, Any]:
    data = {c.name: _jsonable(getattr(row, c.name)) for c in table.c}
    for column, note in WITHHELD.get(table.name, {}).items():
        data[column] = note
    if table.name == "utterances":  # the features as numbers, not opaque bytes
        mfcc, energy = decode_arrays(row.mfcc, row.energy, row.n_frames, row.n_mfcc)
        data["mfcc"], data["energy"] = mfcc.tolist(), energy.tolist()
    return data


def user_records(session: Session, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]] | None:
    """``{table name: [row, ...]}`` for the user's account and all their data; None if no such user."""
    users = User.__table__
    assert isinstance(users, Table)
    account = session.execute(select(users).where(users.c.id == user_id)).one_or_none()
    if account is None:
        return None
    records = {"users": [_row_dict(users, account)]}
    for table in user_tables():
        order = list(table.primary_key.columns)
        rows = session.execute(select(table).where(table.c.user_id == user_id).order_by(*order))
        records[table.name] = [_row_dict(table, r) for r in rows]
    return records


def user_summary(session: Session, user_id: uuid.UUID) -> dict[str, tuple[int, datetime | None, datetime | None]]:
    """``{table name: (rows, oldest, newest)}`` of the user's data, dates from ``created_at`` where a table
    has one: what is stored, without a single stored value."""
    from sqlalchemy import func

    summary: dict[str, tuple[int, datetime | None, datetime | None]] = {}
    for table in user_tables():
        stamp = table.c.get("created_at")
        columns = [func.count(), func.min(stamp), func.max(stamp)] if stamp is not None else [func.count()]
        row = session.execute(select(*columns).where(table.c.user_id == user_id)).one()
        first, last = (row[1], row[2]) if stamp is not None else (None, None)
        summary[table.name] = (int(row[0]), first, last)
    return summary
