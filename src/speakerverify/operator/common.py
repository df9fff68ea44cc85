"""What every operator command shares: errors, the database, an application context, progress bars."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import make_url

from ..app.context import AppContext
from ..app.security import Passwords
from ..config import Settings
from ..storage import migrate, ubms
from ..storage.db import Database, is_sqlite, safe_url, sqlite_path_hint
from ..voice.runtime import VoiceRuntime, resolve_ubm

T = TypeVar("T")


class OperatorError(Exception):
    """Bad input or an unusable database: the CLI prints the message and exits with status 2."""


def progress(it: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    from tqdm import tqdm

    yield from tqdm(it, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False)


@contextmanager
def open_database(settings: Settings, upgrade: bool = False) -> Iterator[Database]:
    """The deployment's database, at this code's schema revision (applied when ``upgrade``).

    Unless ``upgrade`` (the commands that build a deployment: sample-db, import-original), a SQLite
    file that does not exist is refused, never created empty: the other commands work on an existing
    deployment."""
    url, hint = make_url(settings.database_url), sqlite_path_hint(settings.database_url)
    path = str(url.database or "")
    a_file = is_sqlite(url) and path not in ("", ":memory:") and not path.startswith("file:")
    if a_file and not upgrade and not os.path.isfile(path):
        raise OperatorError(
            f"no database file {os.path.abspath(path)}{hint}; `speakerverify db upgrade` creates a new one"
        )
    try:
        db = Database(settings.database_url)
    except Exception as exc:
        raise OperatorError(f"cannot open the database {safe_url(settings.database_url)}: {exc}{hint}") from None
    try:
        try:
            if upgrade:
                migrate.upgrade(db)
            else:
                migrate.check_schema(db)
        except migrate.SchemaMismatch as exc:
            raise OperatorError(str(exc)) from None
        except Exception as exc:  # unreachable server, permissions, ...
            raise OperatorError(f"cannot use the database {safe_url(settings.database_url)}: {exc}") from None
        yield db
    finally:
        db.dispose()


def make_context(settings: Settings, db: Database) -> AppContext:
    """The same context the HTTP service builds, so operator work runs the service's own code."""
    voice = VoiceRuntime(resolve_ubm(db, settings.ubm_file))
    with db.write_session() as session:  # takes reference their UBM row, as at the service's start
        ubms.put_ubm(session, voice.ubm)
    return AppContext(settings=settings, db=db, passwords=Passwords(settings.argon2), voice=voice)


def jsonable(value: Any) -> Any:
    import uuid
    from datetime import datetime

    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
