"""`import-original`: the 2020 demo's MongoDB userdata in, nothing unpickled, idempotent (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import pathlib
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import numpy as np
import pytest
from bson import json_util
from sqlalchemy import select

from speakerverify.app.security import Passwords
from speakerverify.config import Argon2Params
from speakerverify.operator.import_original import LEGACY_CONFIG_ID
from speakerverify.storage.arrays import decode_f32
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Base, LegacyAccount, LegacyTake, SpeakerModelRow, User, Utterance
from support import pgserver


class _Trap:
    """Unpickling this creates the marker file: proof that something unpickled gmmPickleStore."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


def _entry(rng: np.random.Generator, digit: int, minute: int) -> dict[str, Any]:
    frames = int(rng.integers(10, 40))
    return {
        "timestamp": datetime(2020, 6, 1, 12, minute, tzinfo=UTC),
        "session": f"session-{minute % 3}",
        "data": {
            "mfcc": rng.normal(size=(frames, 13)).round(4).tolist(),
            "energy": rng.uniform(0, 5, size=frames).round(4).tolist(),
            "digit": digit if minute % 2 else str(digit),  # the demo sent both
        },
    }


def _documents(marker: Path) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    trap = pickle.dumps(_Trap(marker))
    people = [
        ("Ada@Example.org", "ada lovelace", {"gender": "Female", "age": "25-34"}, 14, 5),
        ("bob@example.org", "Bob!", {"gender": "male", "age": "unknown"}, 7, 0),
        ("cy@example.org", "ada_lovelace", {}, 3, 2),  # alias collides with Ada's sanitised one
    ]
    docs = []
    for n, (email, alias, demo, n_train, n_score) in enumerate(people):
        docs.append(
            {
                "_id": bson.ObjectId(f"{n:024x}"),
                "email": email,
                "userId": f"user-{n}",
                "alias": alias,
                "demographic": demo,
                "trainLog": [_entry(rng, i % 10, i) for i in range(n_train)],
                "scoreLog": [_entry(rng, (3 * i) % 10, 30 + i) for i in range(n_score)],
                "gmmPickleStore": bson.Binary(trap),
                "scoreThreshold": -61.5 + n,
                "resultReference": 84.2,
                "trainProgress": min(100, n_train * 100 // 60),
                "sessionLog": [{"timestamp": datetime(2020, 6, 1, tzinfo=UTC), "clientInfo": {"ua": "Firefox"}}],
            }
        )
    return docs


def _write(docs: list[dict[str, Any]], path: Path, fmt: str) -> None:
    if fmt == "bson":  # mongodump: concatenated BSON documents
        path.write_bytes(b"".join(bson.encode(d) for d in docs))
    elif fmt == "jsonl":  # mongoexport's default: canonical extended JSON, one document per line
        path.write_text("\n".join(json_util.dumps(d, json_options=json_util.CANONICAL_JSON_OPTIONS) for d in docs))
    else:  # mongoexport --jsonArray
        path.write_text(json_util.dumps(docs))


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return {
                t.name: sorted(tuple(repr(v) for v in row) for row in conn.execute(t.select()))
                for t in Base.metadata.sorted_tables
            }
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("backend", "fmt"), [("sqlite", "jsonl"), ("sqlite", "bson"), ("sqlite", "array"), ("postgresql", "bson")]
)
def test_import_round_trip(backend: str, fmt: str, tmp_path: Path, run: Any) -> None:
    url = pgserver.fresh_database_url(backend, tmp_path)
    marker = tmp_path / "unpickled-marker"
    docs = _documents(marker)
    path = tmp_path / ("userdata.bson" if fmt == "bson" else "userdata.json")
    _write(docs, path, fmt)

    first = run("import-original", str(path), "--database-url", url)
    assert first.code == 0, first.err
    assert "3 accounts created" in first.out and "0 skipped" in first.out
    before = _snapshot(url)

    db = Database(url)
    try:
        with db.read_session() as session:
            people = {u.email: u for u in session.scalars(select(User))}
            takes = list(session.scalars(select(LegacyTake).order_by(LegacyTake.id)))
            accounts = {a.user_id: a for a in session.scalars(select(LegacyAccount))}
            assert list(session.scalars(select(Utterance))) == []  # never mixed into 8 kHz material
            assert list(session.scalars(select(SpeakerModelRow))) == []
    finally:
        db.dispose()
    assert set(people) == {"ada@example.org", "bob@example.org", "cy@example.org"}
    ada, bob, cy = people["ada@example.org"], people["bob@example.org"], people["cy@example.org"]
    assert (ada.alias, bob.alias) == ("ada_lovelace", "Bob")
    assert cy.alias.lower() != ada.alias.lower() and cy.alias.startswith("ada_lovelace")
    assert (ada.gender, ada.age_group) == ("female", "25-34")
    assert (bob.gender, bob.age_group) == ("male", None)
    assert accounts[bob.id].document["demographic"] == {"gender": "male", "age": "unknown"}  # kept as it came
    for doc in docs:
        user = people[doc["email"].lower()]
        kept = accounts[user.id]
        assert kept.legacy_user_id == doc["userId"]
        assert kept.document["scoreThreshold"] == doc["scoreThreshold"]
        assert kept.document["sessionLog"][0]["clientInfo"] == {"ua": "Firefox"}
        assert "gmmPickleStore" not in kept.document and kept.document["dropped_fields"] == ["gmmPickleStore"]
        assert user.password_hash.startswith("!") and user.data_statement_version == "original-2020"
        mine = [t for t in takes if t.user_id == user.id]
        for source in ("trainLog", "scoreLog"):
            landed = sorted((t for t in mine if t.source == source), key=lambda t: t.position)
            assert len(landed) == len(doc[source])
            for t, entry in zip(landed, doc[source], strict=True):
                assert t.config_id == LEGACY_CONFIG_ID
                assert t.digit == int(entry["data"]["digit"])
                mfcc = decode_f32(t.mfcc, (t.n_frames, t.n_mfcc))
                assert np.allclose(mfcc, entry["data"]["mfcc"], atol=1e-6)
                assert np.allclose(decode_f32(t.energy, (t.n_frames,)), entry["data"]["energy"], atol=1e-6)
                assert t.recorded_at is not None and t.recorded_at.startswith("2020-06-01")

    # A second import of the same file changes nothing at all.
    second = run("import-original", str(path), "--database-url", url)
    assert second.code == 0, second.err
    assert "0 accounts created, 3 already present" in second.out and "0 log entries added" in second.out
    assert _snapshot(url) == before
    assert not marker.exists(), "gmmPickleStore was unpickled"

    # Imported accounts cannot log in until an operator sets a password; then they can.
    listed = run("users", "list", "--csv", "--database-url", url)
    rows = {r["alias"]: r for r in csv.DictReader(io.StringIO(listed.out))}
    assert rows["Bob"]["password_set"] == "no" and rows["ada_lovelace"]["legacy_takes"] == "19"
    assert rows["ada_lovelace"]["ready"] == "no" and rows["ada_lovelace"]["takes_0"] == "0"
    fast = Passwords(Argon2Params(time_cost=1, memory_kib=64, parallelism=1))
    assert not fast.verify(bob.password_hash, "")
    short = run("users", "set-password", "BOB@example.org", "--database-url", url, stdin="short\n")
    assert short.code == 2 and "at least 10" in short.err
    done = run("users", "set-password", "BOB@example.org", "--database-url", url, stdin="a long enough secret\n")
    assert done.code == 0, done.err
    unknown = run("users", "set-password", "nobody@example.org", "--generate", "--database-url", url)
    assert unknown.code == 2 and "no account" in unknown.err
    db = Database(url)
    try:
        with db.read_session() as session:
            stored = session.scalar(select(User.password_hash).where(User.email == "bob@example.org"))
    finally:
        db.dispose()
    assert stored is not None and Passwords(Argon2Params()).verify(stored, "a long enough secret")


def test_import_refuses_bad_files(tmp_path: Path, run: Any) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    missing = run("import-original", str(tmp_path / "none.json"), "--database-url", url)
    assert missing.code == 2 and "no such file" in missing.err
    broken = tmp_path / "broken.json"
    broken.write_text('{"email": "a@b.c", ')
    result = run("import-original", str(broken), "--database-url", url)
    assert result.code == 2 and "mongoexport JSON" in result.err
    garbage = tmp_path / "garbage.bson"
    garbage.write_bytes(b"\x05\x00\x00\x00\x01junk")
    result = run("import-original", str(garbage), "--database-url", url)
    assert result.code == 2 and "BSON" in result.err


def test_imported_data_is_exported_and_erased_with_the_account(tmp_path: Path, run: Any) -> None:
    from speakerverify.storage import export

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    path = tmp_path / "userdata.bson"
    _write(_documents(tmp_path / "marker")[:1], path, "bson")
    assert run("import-original", str(path), "--database-url", url).code == 0
    db = Database(url)
    try:
        with db.write_session() as session:
            uid = session.scalar(select(User.id))
            assert uid is not None
            records = export.user_records(session, uid)
            assert records is not None
            assert len(records["legacy_takes"]) == 19 and len(records["legacy_accounts"]) == 1
            session.execute(User.__table__.delete().where(User.id == uid))
        with db.read_session() as session:
            assert (
                list(session.scalars(select(LegacyTake))) == [] and list(session.scalars(select(LegacyAccount))) == []
            )
    finally:
        db.dispose()
