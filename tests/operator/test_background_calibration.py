"""Calibration off the request path: when the population changes, the stored calibration keeps serving and
its recomputation is queued in the background; once that has run, the new one serves."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from speakerverify.app import accounts, enrolment, verification
from speakerverify.app.background import Background
from speakerverify.app.calibration import _child_job, calibrate, refresh_user, serving_calibration
from speakerverify.app.frames import DigitFrames, check_frames
from speakerverify.config import settings_from_env
from speakerverify.operator.common import make_context, open_database
from speakerverify.storage import calibrations
from speakerverify.storage.tables import Calibration as StoredCalibration
from speakerverify.storage.tables import DeploymentThreshold, User
from support.fsdd import take

pytestmark = pytest.mark.slow


class Held(Background):
    """Records the jobs a request queues and runs them only when told: what 'in the background' means
    made observable (a real worker might already have finished)."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[Hashable, Callable[[], object]] = {}

    def submit(self, key: Hashable, job: Callable[[], object]) -> None:
        self.held.setdefault(key, job)

    def run_all(self) -> None:
        while self.held:
            self.held.pop(next(iter(self.held)))()


def test_a_stale_calibration_serves_until_the_background_has_recomputed_it(
    sample_db: Any, run: Any, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.sqlite3"
    assert run("db", "backup", str(copy), "--database-url", sample_db.url).code == 0
    settings = settings_from_env(database_url=f"sqlite:///{copy}")
    k = settings.voice.challenge_digits
    with open_database(settings) as db:
        held = Held()
        ctx = dataclasses.replace(make_context(settings, db), background=held)
        with db.read_session() as s:
            victim = next(u.id for u in s.scalars(select(User)) if u.alias.lower().startswith("george"))
        before = calibrate(ctx, victim)
        with db.read_session() as s:
            stored = calibrations.get_calibration(s, victim)
            threshold = calibrations.get_threshold(s, k)
            assert stored is not None and threshold is not None
            computed_at, n_users = stored.computed_at, threshold.n_users
        newcomer = accounts.register(ctx, accounts.NewAccount("new@example.org", "Vu4!mwq8Lp-xz", "newcomer"))
        for n in range(6):  # a seventh ready user: every calibration's cohort and the population change
            for digit in range(10):
                frames = check_frames(*take("jackson", digit, 20 + n), ctx.settings.voice, [])
                enrolment.enrol(ctx, uuid.UUID(newcomer.id), DigitFrames(digit, *frames))
        held.held.clear()
        t0 = time.perf_counter()
        served = serving_calibration(ctx, victim)
        waited = time.perf_counter() - t0
        assert served == before  # the stored one, unchanged, served at once
        assert waited < 1.0, waited  # a read, not a recomputation over the cohort's takes
        assert set(held.held) == {("user", victim, k), ("threshold", k)}
        with db.read_session() as s:
            row = calibrations.get_calibration(s, victim)
            assert row is not None and row.computed_at == computed_at
        held.run_all()
        with db.read_session() as s:
            row, threshold = calibrations.get_calibration(s, victim), calibrations.get_threshold(s, k)
            assert row is not None and threshold is not None
            assert row.computed_at > computed_at and threshold.n_users == n_users + 1
        after = serving_calibration(ctx, victim)
        assert after.mode == "deployment" and after != before
        assert held.held == {}  # now current: nothing more queued


def test_a_new_deployments_first_challenge_waits_for_no_calibration(sample_db: Any, run: Any, tmp_path: Path) -> None:
    """Before its first threshold a deployment serves the provisional one and computes its own in the
    background (it took 56 s of the first request's time at 10 users when computed while it waited)."""
    copy = tmp_path / "copy.sqlite3"
    assert run("db", "backup", str(copy), "--database-url", sample_db.url).code == 0
    settings = settings_from_env(database_url=f"sqlite:///{copy}")
    policy = settings.voice
    with open_database(settings) as db:
        held = Held()
        ctx = dataclasses.replace(make_context(settings, db), background=held)
        with db.read_session() as s:
            victim = next(u.id for u in s.scalars(select(User)) if u.alias.lower().startswith("george"))
        verification.new_challenge(ctx, victim)  # the model derived from the takes and cached: not timed here
        with db.write_session() as s:  # no calibration yet: a deployment just grown past min_cohort_users
            s.execute(delete(DeploymentThreshold))
            s.execute(delete(StoredCalibration))
        held.held.clear()
        t0 = time.perf_counter()
        challenge = verification.new_challenge(ctx, victim)
        waited = time.perf_counter() - t0
        assert len(challenge.digits) == policy.challenge_digits
        assert waited < 1.0, waited  # reads and an insert, no cohort scoring
        assert ("threshold", policy.challenge_digits) in held.held
        first = serving_calibration(ctx, victim)
        assert first.mode == "provisional" and first.threshold == policy.provisional_threshold
        held.run_all()
        with db.read_session() as s:
            assert calibrations.get_threshold(s, policy.challenge_digits) is not None
            assert calibrations.get_calibration(s, victim) is not None  # the pooled users' rows came first
        after = serving_calibration(ctx, victim)
        assert after.mode == "deployment"


def test_the_child_process_stores_what_the_background_thread_would(sample_db: Any, run: Any, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite3"
    assert run("db", "backup", str(copy), "--database-url", sample_db.url).code == 0
    settings = settings_from_env(database_url=f"sqlite:///{copy}")
    assert settings.calibration_process  # the service's default
    k = settings.voice.challenge_digits
    with open_database(settings) as db:
        ctx = make_context(settings, db)
        with db.read_session() as s:
            victim = next(u.id for u in s.scalars(select(User)) if u.alias.lower().startswith("george"))
        try:
            assert ctx.child.call(os.getpid) != os.getpid()
            assert ctx.child.call(_child_job, settings, ctx.voice.ubm.ubm_id, victim, k)  # ran there
            with db.read_session() as s:
                row = calibrations.get_calibration(s, victim)
                assert row is not None
                in_child = (row.location, calibrations.calibration_scores(row).tolist(), row.cohort_key)
            with db.write_session() as s:
                s.execute(delete(StoredCalibration).where(StoredCalibration.user_id == victim))
            assert refresh_user(dataclasses.replace(ctx, settings=settings.with_(calibration_process=False)), victim, k)
            with db.read_session() as s:
                row = calibrations.get_calibration(s, victim)
                assert row is not None
                assert (row.location, calibrations.calibration_scores(row).tolist(), row.cohort_key) == in_child
            # another UBM in the child than in the caller: not run there (the caller's thread runs it)
            assert not ctx.child.call(_child_job, settings, "another-ubm", victim, k)
        finally:
            ctx.child.shutdown()
