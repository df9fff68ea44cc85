"""A throw-away PostgreSQL server for the test run: initdb + pg_ctl in a temporary directory.

initdb refuses to run as root, so under root (as in CI) the cluster is created and run by the
unprivileged ``postgres`` OS user (``runuser``), in a temp dir handed over to it. One server per
test session, shared by the conftests that import ``support.pgserver`` (tests/storage, tests/service,
tests/operator), stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

PG_USER = "postgres"


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL server binaries (bash scripts/test.sh does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        # As root, under /tmp: the postgres user must be able to reach it whatever TMPDIR says.
        self.root = Path(tempfile.mkdtemp(prefix="speakerverify-pg-", dir="/tmp" if self._as_root else None))
        self.data = self.root / "data"
        if self._as_root:
            try:
                owner = pwd.getpwnam(PG_USER)
            except KeyError:
                raise RuntimeError(f"running as root needs an OS user {PG_USER!r} to run PostgreSQL") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='{self.root}' -c fsync=off"
        )
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self.running = True

    def _run(self, *cmd: str) -> None:
        argv = ["runuser", "-u", PG_USER, "--", *cmd] if self._as_root else list(cmd)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty (or template-copied) database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(RuntimeError):
                self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


_server: PostgresServer | None = None


def shared_server() -> PostgresServer:
    global _server
    if _server is None:
        _server = PostgresServer()
        atexit.register(_server.stop)
    return _server


# --- database fixtures shared by tests/storage and tests/service ------------------------------

BACKENDS = ("sqlite", "postgresql")
_template: str | None = None


def migrated_template() -> str:
    """Name of a PostgreSQL database at the head schema, to copy per test (CREATE DATABASE ... TEMPLATE)."""
    global _template
    if _template is None:
        from speakerverify.storage import migrate
        from speakerverify.storage.db import Database

        url = shared_server().create_database()
        db = Database(url)
        try:
            migrate.upgrade(db)
        finally:
            db.dispose()
        _template = url.rsplit("/", 1)[1]
    return _template


def fresh_database_url(backend: str, tmp_dir: Path, migrated: bool = True) -> str:
    """A new, empty-of-rows database of ``backend`` (schema applied unless ``migrated=False``)."""
    if backend == "postgresql":
        return shared_server().create_database(template=migrated_template() if migrated else None)
    url = f"sqlite:///{tmp_dir / 'speakerverify.sqlite3'}"
    if migrated:
        from speakerverify.storage import migrate
        from speakerverify.storage.db import Database

        db = Database(url)
        try:
            migrate.upgrade(db)
        finally:
            db.dispose()
    return url
