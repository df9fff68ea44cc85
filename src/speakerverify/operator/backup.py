"""``speakerverify db backup FILE``: a consistent copy of a live SQLite database.

SQLite's online backup API copies the database page by page while the service keeps running
(WAL readers and the writer are not blocked; pages changed meanwhile are copied again).
PostgreSQL has its own tool: ``pg_dump --format=custom --file FILE URL`` (restore with
``pg_restore``); this command refuses a PostgreSQL URL and says so.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.engine import URL

from ..config import Settings
from ..storage.db import private_file, safe_url
from .common import OperatorError

PAGES_PER_STEP = 256


def backup(settings: Settings, target: Path) -> int:
    """Copy the SQLite database to ``target`` (which must not exist); returns the number of pages."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        # Without the password rather than masked, so the command can be pasted as it is: pg_dump asks
        # for the password (or reads PGPASSWORD / ~/.pgpass), and none is printed to the terminal.
        plain = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
        plain_url = plain.render_as_string(hide_password=False)
        raise OperatorError(
            f"{safe_url(url)} is PostgreSQL: back it up with pg_dump, e.g. "
            f"pg_dump --format=custom --file {target} '{plain_url}' (it asks for the password, or set PGPASSWORD; "
            "restore with pg_restore)"
        )
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise OperatorError(f"cannot back up {safe_url(url)}: only SQLite files and PostgreSQL (pg_dump) are supported")
    source = Path(url.database)
    if not source.is_file():
        raise OperatorError(f"{source}: no such database file")
    if target.exists():
        raise OperatorError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise OperatorError(f"{target.parent}: no such directory")
    from tqdm import tqdm

    private_file(target)  # owner-only from the first byte, like the database itself
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    bar = tqdm(desc="backup", unit="page", leave=False)

    def report(_status: int, remaining: int, total: int) -> None:
        bar.total = total
        bar.n = total - remaining
        bar.refresh()

    try:
        src.backup(dst, pages=PAGES_PER_STEP, progress=report)
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise OperatorError(f"{target}: the copy failed its integrity check")
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise OperatorError(f"backup failed: {exc}") from None
    finally:
        bar.close()
        dst.close()
        src.close()
    return pages
