"""Retention: a user's answer fingerprints are capped per digit (the replay check reads the same number of
templates after a year of answers), take templates (derived with the model) are never pruned, and old
attempts and their answered challenges are deleted after the retention period; each rule is a setting
with 0 keeping everything."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select, update

from speakerverify.app import replay
from speakerverify.config import settings_from_env
from speakerverify.models.replay import HEADER_ROWS
from speakerverify.models.speaker import DEFAULT_ADAPTATION
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage import attempts, challenges, fingerprints, utterances
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Challenge, ReplayFingerprint, VerificationAttempt, utcnow
from speakerverify.voice.runtime import cached_model
from speakerverify.voice.takes import UserModel

MakeUser = Callable[[Database, str], uuid.UUID]


def _fp(rng: np.random.Generator) -> np.ndarray:
    t = rng.normal(0, 5, (30, 12)).astype(np.float32)
    t[:HEADER_ROWS] = np.abs(t[:HEADER_ROWS])  # the header rows hold non-negative statistics
    return t


def _answer(database: Database, user_id: uuid.UUID, digits: list[int], rng: np.random.Generator, keep: int) -> None:
    with database.write_session() as s:
        fingerprints.add_many(s, user_id, digits, [_fp(rng) for _ in digits], uuid.uuid4())
        fingerprints.prune_answers(s, user_id, keep)


def test_answer_fingerprints_are_capped_per_digit_and_take_fingerprints_kept(
    database: Database, make_user: MakeUser
) -> None:
    rng = np.random.default_rng(0)
    uid, other = make_user(database, "ret"), make_user(database, "other")
    templates = {}
    with database.write_session() as s:
        for digit in range(10):  # one enrolment take per digit; its template is the model entry's, not stored
            row = utterances.add_utterance(s, uid, digit, "mfcc-8k-v1", np.zeros((40, 13)), np.ones(40))
            templates[row.id] = (digit, _fp(rng))
    ubm = load_default_ubm()
    model = cached_model(ubm, 1, UserModel.empty(ubm.gmm.n_components, ubm.gmm.dim), DEFAULT_ADAPTATION, templates)
    for _ in range(30):
        _answer(database, other, [0, 1, 2, 3, 4], rng, keep=0)  # 0: another user's answers all kept
    sizes = []
    for _ in range(60):
        _answer(database, uid, [int(d) for d in rng.choice(10, 5, replace=False)], rng, keep=4)
        with database.read_session() as s:
            sizes.append(len(replay.seen(s, uid, [0, 1, 2, 3, 4], model).fingerprints))
    # what one answer's check reads stops growing: 5 digits x (1 take + at most 4 answers)
    assert max(sizes) <= 5 * (1 + 4) and sizes[-1] == sizes[-10] == 25, sizes
    with database.read_session() as s:
        per_digit = s.execute(
            select(ReplayFingerprint.digit, func.count())
            .where(ReplayFingerprint.user_id == uid, ReplayFingerprint.challenge_id.is_not(None))
            .group_by(ReplayFingerprint.digit)
        ).all()
        others = s.scalar(select(func.count()).where(ReplayFingerprint.user_id == other))
    assert {d: c for d, c in per_digit} == dict.fromkeys(range(10), 4)
    assert others == 150
    # the newest are the ones kept
    with database.write_session() as s:
        newest = uuid.uuid4()
        fingerprints.add_many(s, uid, [7], [_fp(rng)], newest)
        fingerprints.prune_answers(s, uid, 4)
        assert s.scalar(select(func.count()).where(ReplayFingerprint.challenge_id == newest)) == 1


def test_attempts_and_answered_challenges_older_than_the_retention_are_deleted(
    database: Database, make_user: MakeUser
) -> None:
    uid, other = make_user(database, "att"), make_user(database, "keep")
    now = utcnow()
    with database.write_session() as s:
        for who in (uid, other):
            for age in (1, 500):
                ch = challenges.create_challenge(s, who, [1, 2, 3], now + timedelta(seconds=30))
                ch.used_at = now - timedelta(days=age)
                row_id = attempts.insert_attempt(
                    s, who, challenge_id=ch.id, ubm_id=None, model_version=None, n_frames=0, score=None,
                    threshold=None, decision="reject", detail={},
                )  # fmt: skip
                s.flush()
                s.execute(
                    update(VerificationAttempt)
                    .where(VerificationAttempt.id == row_id)
                    .values(created_at=now - timedelta(days=age))
                )
    with database.write_session() as s:
        assert attempts.purge_older(s, uid, now - timedelta(days=400)) == 1
    with database.read_session() as s:
        left = s.execute(select(VerificationAttempt.user_id, VerificationAttempt.created_at)).all()
        used = s.scalars(select(Challenge.user_id)).all()
    assert sorted(str(u) for u, _ in left) == sorted([str(uid), str(other), str(other)])
    assert sorted(map(str, used)) == sorted([str(uid), str(other), str(other)])


def test_retention_settings_default_and_zero_disables() -> None:
    base = {"SPEAKERVERIFY_SECRET_KEY": "x" * 40}
    limits = settings_from_env(base, database_url="sqlite://").user_limits
    assert limits.replay_answers_per_digit == 50 and limits.attempt_retention_days == 400
    env = {**base, "SPEAKERVERIFY_REPLAY_ANSWERS_PER_DIGIT": "0", "SPEAKERVERIFY_ATTEMPT_RETENTION_DAYS": "0"}
    off = settings_from_env(env, database_url="sqlite://").user_limits
    assert off.replay_answers_per_digit == 0 and off.attempt_retention_days == 0


def test_rejected_answers_cannot_push_out_accepted_answers_fingerprints(
    database: Database, make_user: MakeUser
) -> None:
    """The attack: someone holding the password answers (and is rejected) until a captured genuine answer's
    fingerprints fall out of the newest ``keep`` of their digits, then replays it. Accepted answers are kept
    apart: however many rejected answers follow, the newest ``keep`` accepted ones of each digit stay."""
    rng = np.random.default_rng(1)
    uid = make_user(database, "victim")
    keep = 3
    now = utcnow()

    def answered(digits: list[int], decision: str) -> uuid.UUID:
        with database.write_session() as s:
            ch = challenges.create_challenge(s, uid, digits, now + timedelta(seconds=30))
            fingerprints.add_many(s, uid, digits, [_fp(rng) for _ in digits], ch.id)
            fingerprints.prune_answers(s, uid, keep)
            attempts.insert_attempt(
                s, uid, challenge_id=ch.id, ubm_id=None, model_version=None, n_frames=0, score=None,
                threshold=None, decision=decision, detail={},
            )  # fmt: skip
            return ch.id

    genuine = [answered([0, 1, 2, 3, 4], "accept") for _ in range(keep)]
    flood = 0
    for _ in range(40):  # 200 rejected segments, 40 of each of the victim's digits 0-4
        answered([0, 1, 2, 3, 4], "reject")
        flood += 5
    with database.read_session() as s:
        kept = {
            c: n
            for c, n in s.execute(
                select(ReplayFingerprint.challenge_id, func.count())
                .where(ReplayFingerprint.user_id == uid, ReplayFingerprint.challenge_id.in_(genuine))
                .group_by(ReplayFingerprint.challenge_id)
            ).all()
        }
        rejected_left = s.scalar(
            select(func.count()).where(ReplayFingerprint.user_id == uid, ReplayFingerprint.challenge_id.not_in(genuine))
        )
    print(f"{flood} rejected segments tried to evict {len(genuine)} accepted answers: {len(kept)} kept whole")
    assert kept == dict.fromkeys(genuine, 5)  # every accepted answer whole: 5 digits each
    assert rejected_left == 5 * keep  # and the rejected ones capped as before
    # A newer accepted answer does push the oldest accepted one out (the cap still holds for them), at the
    # next answer's pruning: an answer is pruned before its own attempt is recorded.
    newest = answered([0, 1, 2, 3, 4], "accept")
    answered([0, 1, 2, 3, 4], "reject")
    with database.read_session() as s:
        left = set(s.scalars(select(ReplayFingerprint.challenge_id).where(ReplayFingerprint.user_id == uid)))
    assert newest in left and genuine[0] not in left and set(genuine[1:]) <= left


def test_answers_prune_only_when_a_digit_reaches_twice_the_cap_and_accepted_ones_stay(
    database: Database, make_user: MakeUser
) -> None:
    """Through the answer's own path (``replay.seen`` then ``replay.settle_and_record``): the pruning statement
    runs only when a prompted digit would hold more than 2 x keep answer templates, so between prunes a digit
    holds more than keep, never more than 2 x keep; accepted answers still outlast any flood of rejected ones."""
    rng = np.random.default_rng(2)
    uid = make_user(database, "lazy")
    keep, digits, now = 3, [0, 1, 2, 3, 4], utcnow()
    ubm = load_default_ubm()
    model = cached_model(ubm, 1, UserModel.empty(ubm.gmm.n_components, ubm.gmm.dim), DEFAULT_ADAPTATION, {})

    def answered(decision: str) -> uuid.UUID:
        with database.read_session() as s:
            before = replay.seen(s, uid, digits, model)
        with database.write_session() as s:
            ch = challenges.create_challenge(s, uid, digits, now + timedelta(seconds=30))
            found = np.full(len(digits), np.inf)
            replay.settle_and_record(s, uid, ch.id, digits, [_fp(rng) for _ in digits], before, found, keep)
            attempts.insert_attempt(
                s, uid, challenge_id=ch.id, ubm_id=None, model_version=None, n_frames=0, score=None,
                threshold=None, decision=decision, detail={},
            )  # fmt: skip
            return ch.id

    held = []
    for _ in range(12):
        answered("reject")
        with database.read_session() as s:
            held.append(len(replay.seen(s, uid, [0], model).fingerprints))
    assert max(held) <= 2 * keep, held  # what the check reads stays bounded
    assert any(h > keep for h in held), held  # and the prune did not run on every answer
    genuine = [answered("accept") for _ in range(keep)]
    for _ in range(12):
        answered("reject")
        with database.read_session() as s:
            assert len(replay.seen(s, uid, [0], model).fingerprints) <= 2 * keep
    with database.read_session() as s:
        left = set(s.scalars(select(ReplayFingerprint.challenge_id).where(ReplayFingerprint.user_id == uid)))
    assert set(genuine) <= left


def test_needs_pruning_counts_what_the_answer_adds_and_zero_never_prunes() -> None:
    counts = np.zeros(10, dtype=int)
    counts[3], counts[9] = 7, 100
    assert not replay.needs_pruning(counts, [1, 3, 5], 4)  # 7 + 1 = 8 = 2 x 4: still within
    assert replay.needs_pruning(counts, [3, 1, 3], 4)  # 7 + 2 = 9
    counts[3] = 8
    assert replay.needs_pruning(counts, [1, 3, 5], 4)
    assert not replay.needs_pruning(counts, [0, 1, 2], 4)  # digit 9's excess waits for a prompt of 9
    assert not replay.needs_pruning(counts, [3, 9], 0)  # 0 keeps everything
