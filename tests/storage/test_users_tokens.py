"""Users and revoked tokens: uniqueness under concurrency, cascading erasure, revocation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from speakerverify.config import VoicePolicy
from speakerverify.models.ubm import UBM
from speakerverify.storage import calibrations, speaker_models, tokens, ubms, users, utterances
from speakerverify.storage.db import Database
from speakerverify.storage.export import user_tables
from speakerverify.storage.tables import (
    Challenge,
    LegacyAccount,
    LegacyTake,
    ReplayFingerprint,
    User,
    VerificationAttempt,
    VerificationLockout,
    utcnow,
)

REQUIRED = VoicePolicy().takes_per_digit

MakeUser = Callable[[Database, str], uuid.UUID]


def _new(email: str, alias: str) -> users.NewUser:
    return users.NewUser(email, "$argon2id$x", alias, None, None, "v")


def test_email_and_alias_are_unique_alias_regardless_of_case(database: Database) -> None:
    with database.write_session() as s:
        users.create_user(s, _new("a@example.org", "Ann"))
    with pytest.raises(users.DuplicateUser) as exc, database.write_session() as s:
        users.create_user(s, _new("a@example.org", "other"))
    assert exc.value.field == "email"
    with pytest.raises(users.DuplicateUser) as exc, database.write_session() as s:
        users.create_user(s, _new("b@example.org", "aNN"))
    assert exc.value.field == "alias"
    with database.read_session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_concurrent_registrations_of_one_email_create_one_user(database: Database) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def register(i: int) -> None:
        barrier.wait()
        try:
            with database.write_session() as s:
                users.create_user(s, _new("race@example.org", f"racer{i}"))
            outcomes.append("created")
        except users.DuplicateUser as exc:
            outcomes.append(exc.field)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "email", "email", "email"]


def _plant_everything(db: Database, user_id: uuid.UUID, ubm: UBM) -> None:
    """One row in every table that belongs to a user."""
    with db.write_session() as s:
        ubms.put_ubm(s, ubm)
        utterances.add_utterance(s, user_id, 3, "mfcc-8k-v1", np.ones((5, 13)), np.ones(5))
        speaker_models.touch_model(s, user_id, ubm.ubm_id, False)
        challenge = Challenge(user_id=user_id, digits="123", expires_at=utcnow() + timedelta(minutes=2))
        s.add(challenge)
        s.flush()
        s.add(VerificationAttempt(user_id=user_id, challenge_id=challenge.id, n_frames=5, decision="reject"))
        tokens.revoke(s, uuid.uuid4().hex, user_id, utcnow() + timedelta(hours=1))
        calibrations.put_calibration(
            s,
            user_id,
            ubm_id=ubm.ubm_id,
            model_version=1,
            k=5,
            cohort_key="x",
            n_cohort_users=5,
            location=0.5,
            impostor_scores=np.zeros(4),
        )
        s.add(ReplayFingerprint(user_id=user_id, digit=3, fingerprint=bytes(768)))
        s.add(VerificationLockout(user_id=user_id, failures=1, level=0))
        s.add(LegacyAccount(user_id=user_id, legacy_user_id="legacy-1", document={}))
        s.add(
            LegacyTake(
                user_id=user_id,
                source="trainLog",
                position=0,
                fingerprint="f",
                config_id="meyda-legacy-native-v0",
                digit=3,
                n_frames=1,
                n_mfcc=13,
                mfcc=bytes(52),
                energy=bytes(4),
            )
        )


def _rows_of(db: Database, user_id: uuid.UUID) -> dict[str, int]:
    with db.read_session() as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t).where(t.c.user_id == user_id)) or 0)
            for t in user_tables()
        }


def test_deleting_a_user_erases_all_their_rows_and_nothing_else(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    ubm = tiny_ubm()
    a, b = make_user(database, "alice"), make_user(database, "bob")
    _plant_everything(database, a, ubm)
    _plant_everything(database, b, ubm)
    assert set(_rows_of(database, a).values()) == {1}  # every user table really has a row to erase
    with database.write_session() as s:
        assert users.delete_user(s, a) is True
    assert set(_rows_of(database, a).values()) == {0}
    assert set(_rows_of(database, b).values()) == {1}
    with database.write_session() as s:
        assert users.delete_user(s, a) is False
        assert users.get_user(s, b) is not None


def test_revocation_blocks_only_that_token_and_expired_ones_are_purged(database: Database, make_user: MakeUser) -> None:
    uid = make_user(database, "carol")
    with database.read_session() as s:
        assert tokens.active_user(s, uid, "jti-1") is not None
    with database.write_session() as s:
        tokens.revoke(s, "jti-1", uid, utcnow() + timedelta(hours=1))
        tokens.revoke(s, "jti-1", uid, utcnow() + timedelta(hours=1))  # a retried logout is fine
        tokens.revoke(s, "jti-old", uid, utcnow() - timedelta(seconds=1))
    with database.read_session() as s:
        assert tokens.active_user(s, uid, "jti-1") is None
        assert tokens.active_user(s, uid, "jti-2") is not None
        assert tokens.active_user(s, uuid.uuid4(), "jti-2") is None
    with database.write_session() as s:
        assert tokens.purge_expired(s) == 1
    with database.read_session() as s:
        assert [r.jti for r in tokens.revoked_for_user(s, uid)] == ["jti-1"]
