"""Processes started together on a fresh PostgreSQL database all come up (issue 16: two `serve`
processes crashed one of them with ``UniqueViolation ... pk_ubms`` inserting the shipped UBM)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select

from speakerverify.storage import migrate
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Ubm
from support import pgserver
from support.startup import start_up_rounds

PROCESSES = 4
ROUNDS = 10


@pytest.mark.slow
def test_four_processes_start_together_on_a_fresh_database_ten_times(tmp_path: Path) -> None:
    urls = [pgserver.fresh_database_url("postgresql", tmp_path, migrated=False) for _ in range(ROUNDS)]
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter, as `serve` is
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=start_up_rounds, args=(barrier, urls, str(tmp_path), results)) for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=180) for _ in range(PROCESSES * ROUNDS)]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    failures = [error for _index, error in outcomes if error is not None]
    assert not failures, f"{len(failures)} of {PROCESSES * ROUNDS} start-ups failed; first:\n{failures[0]}"
    head = migrate.head_revision()
    for url in urls:
        db = Database(url)
        try:
            with db.engine.connect() as conn:
                assert migrate.current_revision(conn) == head
            with db.read_session() as session:
                assert session.scalar(select(func.count()).select_from(Ubm)) == 1
        finally:
            db.dispose()
