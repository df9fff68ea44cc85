"""Engine and transaction set-up shared by every storage module.

Two kinds of transaction, so that concurrent writers never lose updates on either database:

* ``read_session``: for requests that only read (a plain transaction on SQLite; autocommit statements
  on PostgreSQL).
* ``write_session``: on SQLite ``BEGIN IMMEDIATE`` takes the database write lock up front, so two
  read-modify-write transactions are serialised instead of both reading the old value; on
  PostgreSQL the storage functions lock the rows they modify (``SELECT ... FOR UPDATE``) and
  rely on unique constraints for inserts.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

_IMMEDIATE = "speakerverify_sqlite_immediate"
SQLITE_BUSY_TIMEOUT_MS = 10_000


# Kept open for the request threads (the server runs up to 40): beyond the pool, connections are opened
# and closed per request, and opening one (PRAGMAs; a PostgreSQL backend) costs more than the query.
_POOL = {"pool_size": 16, "max_overflow": 32}


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path_hint(url: str | URL) -> str:
    """For a SQLite URL whose path is relative: where it points, and how an absolute path is written
    (``sqlite:///data/x.db`` is ``./data/x.db``; ``/data/x.db`` takes four slashes). Else ``""``."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return ""
    if os.path.isabs(database):
        return ""
    return (
        f" ({safe_url(parsed)} is {os.path.abspath(database)}, relative to the current folder; "
        f"for the absolute path /{database} write sqlite:////{database})"
    )


def private_file(path: str | os.PathLike[str]) -> None:
    """Make ``path`` readable by its owner only: created 0600 if missing (``O_EXCL``: never through a
    file someone else planted), tightened to 0600 if group or others could read it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            os.chmod(path, 0o600)


def private_sqlite(database: str | None) -> None:
    """The database file and its -wal/-shm files hold every account's data: owner-only, like the secret
    key. SQLite gives the -wal and -shm files it creates the database file's mode, so creating the
    database 0600 covers them; ones left by an earlier version are tightened."""
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        return
    private_file(str(database))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{database}{suffix}"):
            private_file(f"{database}{suffix}")


def make_engine(url: str | URL, echo: bool = False) -> Engine:
    """An engine configured for this service's transaction discipline (see module docstring)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        private_sqlite(parsed.database)
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False}, **_POOL)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {safe_url(parsed)!r}: use sqlite:/// or postgresql+psycopg://")
    # pool_pre_ping: a PostgreSQL restart must not turn the next request into a 500.
    return create_engine(parsed, echo=echo, pool_pre_ping=True, **_POOL)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily (at the first write), which
    # lets two writers both read stale rows; we take over and emit BEGIN ourselves.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")  # ON DELETE CASCADE erases a user's data
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")  # readers do not block the writer
            # In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a commit is still in the WAL
            # (the OS's, whatever happens to the process: SIGKILL loses nothing) and the file never
            # corrupts; only a power cut can undo the last commits. FULL cost ~7 ms a commit here, taken
            # while holding the one write lock, two commits per verification.
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus the two session factories; one per process, shared by all requests."""

    def __init__(self, url: str | URL, echo: bool = False) -> None:
        self.engine = make_engine(url, echo=echo)
        # SQLite has one writer at a time. Threads of this process queue here for it; left to SQLite's
        # busy handler, a waiting BEGIN IMMEDIATE sleeps in steps of up to 100 ms while the lock is long
        # free (measured: a 1-worker server at 8 clients spent most of its time asleep in BEGIN).
        # Other processes on the same file still meet the busy handler.
        self._write_lock: threading.RLock | None = threading.RLock() if is_sqlite(url) else None
        # PostgreSQL reads run in autocommit: no BEGIN/COMMIT round trips around them (two of the few
        # statements a verification makes). A read session then sees each statement's own snapshot,
        # which none of the read paths depends on; writes belong in write_session.
        read_engine = self.engine if is_sqlite(url) else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_engine = read_engine
        self._read = sessionmaker(read_engine, expire_on_commit=False)
        self.write_engine = self.engine.execution_options(**{_IMMEDIATE: True})
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self.engine.url

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """``read_session`` without the ORM, for a Core statement on every request (the token check): the
        same transaction and isolation, without a Session and its ORM execution path (~half the check's
        CPU)."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        if self._write_lock is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._write_lock, self._write() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
