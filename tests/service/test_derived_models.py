"""Speaker models and take replay templates derived from the stored takes (migration 0013), not stored.

Each worker keeps a user's model in its cache, changes it in float64 as takes come and go, and derives it
again from the takes whenever the row's version is not the one it holds: whichever worker did what, every
worker's model is the one derived from the takes. An old database (statistics and take fingerprints
stored) upgrades and its users verify, replays of their takes still caught.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from speakerverify.app import enrolment
from speakerverify.app import replay as app_replay
from speakerverify.app.context import AppContext
from speakerverify.app.errors import TakeRejected
from speakerverify.app.frames import DigitFrames
from speakerverify.config import Settings
from speakerverify.http.app import create_app
from speakerverify.models import replay
from speakerverify.models.ubm import load_default_ubm
from speakerverify.operator.common import make_context
from speakerverify.storage import fingerprints, migrate, speaker_models, utterances
from speakerverify.storage.db import Database
from speakerverify.storage.tables import ReplayFingerprint, SpeakerModelRow, User, VerificationAttempt
from speakerverify.voice.takes import rebuild_model
from support import pgserver
from support.fsdd import enrol_speaker, segments_for, take

from .conftest import FAST_ARGON2, PASSWORD, TEST_SECRET, Api


def _same_model(ctx: AppContext, user_id: uuid.UUID) -> None:
    """The model ``ctx``'s worker scores with equals the one derived from the stored takes now."""
    gmm = ctx.voice.ubm.gmm
    with ctx.db.read_session() as s:
        entry = ctx.voice.speaker(s, user_id)
        assert entry is not None
        rows = utterances.list_utterances(s, user_id)
        derived = [rebuild_model(gmm, rows, ctx.voice.post, recipe) for recipe in ctx.voice.recipes.both]
        stored_ids = {r.id for r in rows}
    for held, want in zip((entry.model, entry.content), derived, strict=True):  # the voice and content models
        assert np.array_equal(held.takes, want.takes)
        scale = float(np.abs(want.f).max())
        assert np.abs(held.f - want.f).max() <= 1e-5 * scale
        assert np.abs(held.n - want.n).max() <= 1e-5 * float(want.n.max())
    assert not np.allclose(entry.model.f, entry.content.f)  # two recipes, two models
    assert set(entry.take_ids) == stored_ids  # the replay templates of exactly the stored takes


def test_two_workers_enrolling_and_deleting_in_turn_both_score_the_derived_model(settings: Settings) -> None:
    """Two workers (two runtimes, one database) enrol and delete one user's takes in turn: a worker whose
    cached version is the row's changes its entry in place, the other derives it again; both end with
    the model of the stored takes, and with the replay templates of exactly those takes."""
    one = make_context(settings, Database(str(settings.database_url)))
    two = make_context(settings, Database(str(settings.database_url)))
    try:
        with TestClient(create_app(settings)) as client:
            Api(client).register()
        with one.db.read_session() as s:
            user_id = s.scalars(select(User.id)).one()
        ids = []
        for i, (digit, n) in enumerate((d, n) for n in range(2) for d in range(10)):
            ctx = (one, two)[i % 3 == 0]
            try:
                ids.append(enrolment.enrol(ctx, user_id, DigitFrames(digit, *take("jackson", digit, n))).utterance_id)
            except TakeRejected:  # a genuine take refused as another digit (about 1 in 100): not the point here
                pass
        _same_model(one, user_id)
        _same_model(two, user_id)
        enrolment.delete_take(one, user_id, ids[3])
        enrolment.delete_take(one, user_id, ids[4])  # one's entry is current: kept by subtraction
        _same_model(one, user_id)
        enrolment.delete_take(two, user_id, ids[5])  # two's is stale: derived again under the lock
        _same_model(two, user_id)
        _same_model(one, user_id)
        with one.db.read_session() as s:
            row = speaker_models.get_model(s, user_id)
            assert row is not None and row.stats is None
            assert s.scalar(select(func.count()).select_from(ReplayFingerprint)) == 0  # nothing stored for takes
    finally:
        one.db.dispose()
        two.db.dispose()


def _downgrade(db: Database, revision: str) -> None:
    cfg = migrate.alembic_config()
    with db.write_engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _answer(client: TestClient, auth: dict[str, str], takes: int) -> Any:
    ch = client.post("/api/v1/challenges", headers=auth).json()
    body = {"challenge_id": ch["challenge_id"], "segments": segments_for("jackson", ch["digits"], takes)}
    r = client.post("/api/v1/verifications", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("backend", pgserver.BACKENDS)
def test_a_database_from_before_0013_upgrades_and_its_user_verifies(backend: str, tmp_path: Path) -> None:
    url = pgserver.fresh_database_url(backend, tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=url, secret_key=TEST_SECRET, argon2=FAST_ARGON2)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        api.register()
        enrol_speaker(client, api.login(), "jackson")
    db = Database(url)
    try:
        _downgrade(db, "0012")  # then as 0012 stored it: the statistics and every take's fingerprint
        gmm = load_default_ubm().gmm
        with db.write_session() as s:
            row = s.scalars(select(SpeakerModelRow)).one()
            takes = utterances.list_utterances(s, row.user_id)
            row.stats = speaker_models.encode_model(rebuild_model(gmm, takes))
            for t in takes:
                tpl = replay.template(*utterances.utterance_arrays(t))
                fingerprints.add(s, row.user_id, t.digit, tpl, utterance_id=t.id)
        with db.read_session() as s:
            version = s.scalars(select(SpeakerModelRow.version)).one()
        migrate.upgrade(db)
        with db.read_session() as s:
            row = s.scalars(select(SpeakerModelRow)).one()
            assert row.stats is None and row.ready and row.version == version
            assert s.scalar(select(func.count()).select_from(ReplayFingerprint)) == 0
        with TestClient(create_app(settings)) as client:  # a new process: nothing cached
            auth = Api(client).login(password=PASSWORD)
            assert _answer(client, auth, 30)["decision"] == "accept"
            replayed = _answer(client, auth, 2)  # a replay of enrolment takes: caught from derived templates
            assert replayed["decision"] == "reject"
        with db.read_session() as s:
            last = s.scalars(select(VerificationAttempt).order_by(VerificationAttempt.id.desc())).first()
            assert last is not None and all((last.detail or {}).get("replay", []))
            assert s.scalar(select(func.count()).select_from(ReplayFingerprint)) == 10  # the two answers'
    finally:
        db.dispose()


def test_a_take_stored_while_an_answer_is_scored_is_still_checked(registered: tuple[AppContext, uuid.UUID]) -> None:
    """The answer's read took the take templates from the cached entry; a take of a prompted digit
    enrolled before its write transaction (and sent as the answer) is found there, as a stored
    fingerprint row was before takes' templates were derived."""
    ctx, user_id = registered
    for digit in range(10):
        enrolment.enrol(ctx, user_id, DigitFrames(digit, *take("jackson", digit, 0)))
    with ctx.db.read_session() as s:
        before = app_replay.seen(s, user_id, [3], ctx.voice.speaker(s, user_id))
    mfcc, energy = take("jackson", 3, 1)
    enrolment.enrol(ctx, user_id, DigitFrames(3, mfcc, energy))  # while the answer is being scored
    fps = [replay.template(mfcc, energy)]
    found = app_replay.distances([3], fps, before)
    with ctx.db.write_session() as s:
        final = app_replay.settle_and_record(s, user_id, uuid.uuid4(), [3], fps, before, found)
    assert found[0] >= replay.REPLAY_THRESHOLD > final[0]
