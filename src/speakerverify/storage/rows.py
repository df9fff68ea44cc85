"""The one get-or-create pattern of the storage layer, safe when two writers race to insert the same key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")


def insert_if_missing(session: Session, new: Callable[[], Any]) -> bool:
    """Insert ``new()`` under a savepoint. False when a concurrent writer inserted the same key first:
    only the savepoint rolls back, and the caller reads the winner's row."""
    try:
        with session.begin_nested():
            session.add(new())
        return True
    except IntegrityError:
        return False


def get_or_create(session: Session, load: Callable[[], T | None], new: Callable[[], Any]) -> T:
    """``load()``, inserting ``new()`` first if it finds nothing (``load`` should lock the row it reads)."""
    row = load()
    if row is None:
        insert_if_missing(session, new)
        row = load()
        assert row is not None
    return row
