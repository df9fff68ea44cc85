"""`db backup`, `ubm train --from-database`, `models rebuild` (and roll back) on a copy of the sample database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from speakerverify.config import Argon2Params, Settings
from speakerverify.features import extract, read_audio
from speakerverify.http.app import create_app
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage import deployment, users
from speakerverify.storage.db import Database
from speakerverify.storage.tables import SpeakerModelRow, Ubm, User, Utterance
from support import shared_data
from support.audit import audited

FSDD = shared_data.FSDD / "recordings"  # the sample_db fixture has checked it is there


def _segments(speaker: str, digits: list[int], take: int) -> list[dict[str, Any]]:
    out = []
    for d in digits:
        mfcc, energy = extract(read_audio(FSDD / f"{d}_{speaker}_{take}.wav"))
        out.append({"digit": d, "mfcc": mfcc.tolist(), "energy": energy.tolist()})
    return out


@pytest.mark.slow  # the session's sample database (~16 s) plus a UBM retrain
def test_backup_then_retrain_rebuild_and_roll_back(sample_db: Any, run: Any, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite3"
    backed = run("db", "backup", str(copy), "--database-url", sample_db.url)
    assert backed.code == 0, backed.err
    again = run("db", "backup", str(copy), "--database-url", sample_db.url)
    assert again.code == 2 and "already exists" in again.err
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM utterances").fetchone()[0] == 360
    url = f"sqlite:///{copy}"

    db = Database(url)
    try:
        with db.write_session() as session:  # one user withdraws consent: their takes must not train the UBM
            theo = session.scalar(select(User).where(User.alias == "theo"))
            assert theo is not None
            users.set_consent_model_training(session, theo.id, False)
            theo_frames = sum(
                u.n_frames for u in session.scalars(select(Utterance).where(Utterance.user_id == theo.id))
            )
    finally:
        db.dispose()
    assert theo_frames > 0

    trained = run("ubm", "train", "--from-database", "--components", "32", "--database-url", url)
    assert trained.code == 0, trained.err
    new_id = trained.out.strip()
    old_id = load_default_ubm().ubm_id
    assert new_id.startswith("deployment-32-") and new_id != old_id
    listed = run("ubm", "list", "--database-url", url)
    assert new_id in listed.out and "staged" in listed.out

    rebuilt = run("models", "rebuild", "--database-url", url)
    assert rebuilt.code == 0, rebuilt.err
    db = Database(url)
    try:
        with db.read_session() as session:
            models = list(session.scalars(select(SpeakerModelRow)))
            stored = session.get(Ubm, new_id)
            assert deployment.get_setting(session, deployment.ACTIVE_UBM) == new_id
            assert deployment.get_setting(session, deployment.STAGED_UBM) is None
            assert session.get(Ubm, old_id) is not None  # kept for rollback
            take_ubms = set(session.scalars(select(Utterance.stats_ubm_id)))
    finally:
        db.dispose()
    assert stored is not None and stored.n_components == 32 and stored.meta["n_speakers"] == 5
    assert len(models) == 6 and {m.ubm_id for m in models} == {new_id} and all(m.ready for m in models)
    assert take_ubms == {new_id}

    # A service started now serves the new UBM, and every user verifies: own voice above another's.
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        secret_key="x" * 40,
        argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1),
    )
    with TestClient(create_app(settings)) as client:
        assert client.app.state.ctx.voice.ubm.ubm_id == new_id  # type: ignore[attr-defined]
        speakers = sorted(sample_db.passwords)
        for n, alias in enumerate(speakers):
            login = client.post(
                "/api/v1/sessions", json={"email": sample_db.emails[alias], "password": sample_db.passwords[alias]}
            )
            assert login.status_code == 201, login.text
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            scores = {}
            for who in (alias, speakers[(n + 1) % len(speakers)]):
                ch = client.post("/api/v1/challenges", headers=auth)
                assert ch.status_code == 201, ch.text
                body = {"challenge_id": ch.json()["challenge_id"], "segments": _segments(who, ch.json()["digits"], 30)}
                answer = client.post("/api/v1/verifications", headers=auth, json=body)
                assert answer.status_code == 200, answer.text
                scores[who] = audited(url, answer.json()["attempt_id"]).score  # the API answers no score
            assert scores[alias] > scores[speakers[(n + 1) % len(speakers)]], (alias, scores)

    # Roll back to the shipped UBM.
    back = run("models", "rebuild", "--ubm", old_id, "--database-url", url)
    assert back.code == 0, back.err
    db = Database(url)
    try:
        with db.read_session() as session:
            assert {m.ubm_id for m in session.scalars(select(SpeakerModelRow))} == {old_id}
    finally:
        db.dispose()


def test_operator_commands_refuse_bad_input(run: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run("db", "upgrade", "--database-url", url).code == 0
    nobody = run("ubm", "train", "--from-database", "--components", "32", "--database-url", url)
    assert nobody.code == 2 and "consented" in nobody.err
    odd = run("ubm", "train", "--from-database", "--components", "30", "--database-url", url)
    assert odd.code == 2 and "power of two" in odd.err
    nothing = run("models", "rebuild", "--database-url", url)
    assert nothing.code == 2 and "ubm train" in nothing.err
    unknown = run("models", "rebuild", "--ubm", "no-such-ubm", "--database-url", url)
    assert unknown.code == 2 and "no-such-ubm" in unknown.err
    pg = run("db", "backup", str(tmp_path / "x.dump"), "--database-url", "postgresql+psycopg://u:secret@db.example/sv")
    assert pg.code == 2 and "pg_dump" in pg.err and "secret" not in pg.err
    assert not (tmp_path / "x.dump").exists()


@pytest.mark.parametrize("argv", [["users"], ["ubm"], ["models"], ["eer", "--digits", "x"]])
def test_usage_errors_exit_2(run: Any, argv: list[str]) -> None:
    assert run(*argv).code == 2
