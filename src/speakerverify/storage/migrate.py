"""Applying the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from .db import Database, safe_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant shared by all speakerverify processes; it names the PostgreSQL advisory lock.
_PG_MIGRATION_LOCK = 0x5BEA_C0DE


class SchemaMismatch(RuntimeError):
    """The database is not at the revision this code expects."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts shipped"
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` in one transaction; returns the revision now current.

    Safe to call from several processes at once: PostgreSQL serialises them on an advisory lock,
    SQLite on the database write lock (``write_session`` semantics, taken by BEGIN IMMEDIATE).
    """
    cfg = alembic_config()
    with db.write_engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        return current_revision(conn)


def check_schema(db: Database) -> None:
    """Raise ``SchemaMismatch`` unless the database is at the head revision of this code."""
    with db.engine.connect() as conn:
        current = current_revision(conn)
    head = head_revision()
    if current != head:
        raise SchemaMismatch(
            f"database {safe_url(db.url)} is at schema revision {current!r} but this version of speakerverify "
            f"needs {head!r}; run `speakerverify db upgrade` (with the same SPEAKERVERIFY_DATA_DIR or --database-url)"
        )
