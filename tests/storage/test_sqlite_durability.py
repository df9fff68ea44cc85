"""SQLite runs in WAL mode with synchronous=NORMAL: commits are not fsynced one by one (that cost ~7 ms a
commit under the one write lock), and a process killed right after a commit loses nothing of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from speakerverify.storage.db import Database

_CHILD = """
import os, signal, sys
from speakerverify.storage.db import Database
db = Database(sys.argv[1])
with db.write_session() as s:
    s.connection().exec_driver_sql("CREATE TABLE t (v INTEGER)")
for i in range(50):
    with db.write_session() as s:
        s.connection().exec_driver_sql(f"INSERT INTO t VALUES ({i})")
print("committed", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_wal_with_normal_sync_and_commits_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite3'}"
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    db.dispose()
    child = subprocess.run([sys.executable, "-c", _CHILD, url], capture_output=True, text=True, env=os.environ)
    assert child.returncode == -signal.SIGKILL and "committed" in child.stdout, child.stderr
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*), sum(v) FROM t").one() == (50, sum(range(50)))
    db.dispose()
