"""``speakerverify cohort report``: a second account enrolled with an existing user's voice is set aside
from that user's calibration (it would poison it) and the operator sees who."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from speakerverify.app import accounts, enrolment
from speakerverify.app.calibration import calibrate
from speakerverify.app.frames import DigitFrames, check_frames
from speakerverify.config import settings_from_env
from speakerverify.operator.common import make_context, open_database
from speakerverify.storage.tables import User
from support.fsdd import take

pytestmark = pytest.mark.slow


def test_a_copy_of_a_users_voice_is_set_aside_and_reported(sample_db: Any, run: Any, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite3"
    assert run("db", "backup", str(copy), "--database-url", sample_db.url).code == 0
    settings = settings_from_env(database_url=f"sqlite:///{copy}")
    with open_database(settings) as db:
        ctx = make_context(settings, db)
        with db.read_session() as s:
            aliases = {u.alias: u.id for u in s.scalars(select(User))}
        victim = next(a for a in aliases if a.lower().startswith("george"))
        clone = accounts.register(ctx, accounts.NewAccount("clone@example.org", "Vu4!mwq8Lp-xz", "clone"))
        for n in range(6, 12):  # george's other takes: the same voice, not the same recordings
            for digit in range(10):
                frames = check_frames(*take("george", digit, n), ctx.settings.voice, [])
                enrolment.enrol(ctx, uuid.UUID(clone.id), DigitFrames(digit, *frames))
        calibrate(ctx, aliases[victim])
    report = run("cohort", "report", "--database-url", f"sqlite:///{copy}")
    assert report.code == 0, report.err
    rows = [line.split("\t")[:2] for line in report.out.splitlines()[1:]]
    assert [victim, "clone"] in rows, report.out
    assert all(user in (victim, "clone") for user, _ in rows), report.out  # nobody else sounds like george
