"""Alembic migrations: they build exactly the declared schema, on both databases, once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from speakerverify.storage import migrate
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Base


def test_migrations_build_the_declared_schema(empty_database: Database) -> None:
    with pytest.raises(migrate.SchemaMismatch, match="db upgrade"):
        migrate.check_schema(empty_database)
    assert migrate.upgrade(empty_database) == migrate.head_revision()
    migrate.check_schema(empty_database)
    with empty_database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_upgrade_is_idempotent(database: Database) -> None:
    head = migrate.head_revision()
    assert migrate.upgrade(database) == head
    assert migrate.upgrade(database) == head


def test_concurrent_upgrades_apply_once(empty_database: Database) -> None:
    """Several processes starting at once against one database must not trip over each other."""
    results: list[str | None] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate.upgrade(empty_database))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [migrate.head_revision()] * 3
    migrate.check_schema(empty_database)


def test_migration_scripts_ship_inside_the_package() -> None:
    assert (migrate.MIGRATIONS / "env.py").is_file()
    assert (migrate.MIGRATIONS / "script.py.mako").is_file()
    assert list((migrate.MIGRATIONS / "versions").glob("0001_*.py"))


def old_take(session: Any, user_id: Any, digit: int, mfcc: Any, energy: Any) -> int:
    """A take planted at an old revision: only the columns every revision has (the ORM would write all of
    today's, e.g. ``suspect_digit`` of 0011)."""
    from sqlalchemy import insert

    from speakerverify.storage.arrays import encode_f32
    from speakerverify.storage.tables import Utterance

    values = {
        "user_id": user_id,
        "digit": digit,
        "config_id": "mfcc-8k-v1",
        "n_frames": len(mfcc),
        "n_mfcc": mfcc.shape[1],
        "mfcc": encode_f32(mfcc),
        "energy": encode_f32(energy),
    }
    return int(session.execute(insert(Utterance).values(values).returning(Utterance.id)).scalar_one())


def test_dropping_the_unused_take_stats_keeps_takes_and_fingerprints(empty_database: Database) -> None:
    """0006 drops ``utterances.stats`` in place: a table copy would cascade-delete the takes' fingerprints."""
    import numpy as np
    from sqlalchemy import func, select

    from speakerverify.models import replay
    from speakerverify.storage import fingerprints, users
    from speakerverify.storage.tables import ReplayFingerprint, Utterance

    migrate.upgrade(empty_database, "0005")
    with empty_database.engine.connect() as conn:
        assert "stats" in {c["name"] for c in inspect(conn).get_columns("utterances")}
    with empty_database.write_session() as s:
        new = users.NewUser("m@example.org", "x", "mig", None, None, "1")
        uid = users.create_user(s, new).id
        utt_id = old_take(s, uid, 4, np.ones((20, 13)), np.ones(20))
        fingerprints.add(s, uid, 4, replay.template(np.ones((20, 13)), np.ones(20)), utterance_id=utt_id)
    migrate.upgrade(empty_database, "0012")  # 0013 deletes take fingerprints on purpose
    with empty_database.engine.connect() as conn:
        assert "stats" not in {c["name"] for c in inspect(conn).get_columns("utterances")}
    with empty_database.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Utterance)) == 1
        assert s.scalar(select(func.count()).select_from(ReplayFingerprint)) == 1


def test_v1_fingerprints_become_replay_templates(empty_database: Database) -> None:
    """0008 rebuilds take fingerprints as v2 templates from the stored frames and drops answer ones."""
    import uuid

    import numpy as np
    from sqlalchemy import select

    from speakerverify.models import replay
    from speakerverify.storage import users
    from speakerverify.storage.tables import ReplayFingerprint

    migrate.upgrade(empty_database, "0007")
    rng = np.random.default_rng(0)
    mfcc, energy = rng.normal(0, 30, (40, 13)), rng.uniform(1e6, 1e9, 40)
    with empty_database.write_session() as s:
        uid = users.create_user(s, users.NewUser("v@example.org", "x", "vee", None, None, "1")).id
        utt_id = old_take(s, uid, 2, mfcc, energy)
        s.add(ReplayFingerprint(user_id=uid, utterance_id=utt_id, digit=2, fingerprint=b"\0" * 768))
        s.add(ReplayFingerprint(user_id=uid, challenge_id=uuid.uuid4(), digit=2, fingerprint=b"\0" * 768))
    migrate.upgrade(empty_database, "0012")  # 0013 deletes take fingerprints (derived from the takes since)
    with empty_database.read_session() as s:
        rows = s.execute(select(ReplayFingerprint.utterance_id, ReplayFingerprint.fingerprint)).all()
    assert [r[0] for r in rows] == [utt_id]
    expected = replay.template(mfcc.astype(np.float32), energy.astype(np.float32))
    np.testing.assert_array_equal(replay.decode(rows[0][1]), expected)
