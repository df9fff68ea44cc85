"""Calibration off the request path: when the population changes, the stored calibration keeps serving and
its recomputation is queued in the background; once that has run, the new one serves."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from speakerverify.app import accounts, enrolment
from speakerverify.app.background import Background
from speakerverify.app.calibration import calibrate, serving_calibration
from speakerverify.app.frames import DigitFrames, check_frames
from speakerverify.config import settings_from_env
from speakerverify.operator.common import make_context, open_database
from speakerverify.storage import calibrations
from speakerverify.storage.tables import User
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
