"""``speakerverify attempts list`` and ``speakerverify analysis``: the operator sees the scores and
per-speaker tables that claimants are no longer shown (tests/service/test_no_oracle.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from speakerverify.storage.db import Database
from speakerverify.storage.tables import User, VerificationAttempt


def _copy(sample_db: Any, run: Any, tmp_path: Path) -> str:
    """A copy of the shared sample database: analysis writes calibrations, planted attempts add rows."""
    copy = tmp_path / "copy.sqlite3"
    assert run("db", "backup", str(copy), "--database-url", sample_db.url).code == 0
    return f"sqlite:///{copy}"


def test_attempts_list_shows_scores_from_the_audit_log(sample_db: Any, run: Any, tmp_path: Path) -> None:
    url = _copy(sample_db, run, tmp_path)
    alias = sorted(sample_db.emails)[0]
    db = Database(url)
    try:
        with db.write_session() as s:
            uid = s.scalar(select(User.id).where(User.alias == alias))
            detail = {"digits": [1, 2, 3], "per_digit": [{"digit": 1, "score": 0.5, "content_margin": 0.25}]}
            detail |= {"replay": [False], "digits_match": True, "reason": "voice_not_matched"}
            s.add(
                VerificationAttempt(
                    user_id=uid, n_frames=90, score=0.125, threshold=0.75, decision="reject", detail=detail
                )
            )
            s.add(VerificationAttempt(user_id=uid, n_frames=90, score=None, decision="reject", detail={"digits": [4]}))
    finally:
        db.dispose()
    table = run("attempts", "list", "--database-url", url)
    assert table.code == 0, table.err
    header, *rows = table.out.strip().splitlines()
    assert header.split() == ["attempt_id", "created_at", "alias", "decision", "reason", "score", "threshold", "digits"]
    assert len(rows) == 2 and "0.125" in rows[1] and "0.750" in rows[1] and "voice_not_matched" in rows[1]
    out = run("attempts", "list", "--email", sample_db.emails[alias], "--json", "--database-url", url)
    listed = json.loads(out.out)
    assert [a["score"] for a in listed] == [None, 0.125]
    assert listed[1]["detail"]["per_digit"][0]["content_margin"] == 0.25
    # an attempt recorded without a reason gets one by the same precedence (here: nothing said otherwise)
    assert listed[0]["reason"] == "voice_not_matched"
    other = sorted(sample_db.emails)[1]
    assert (
        json.loads(run("attempts", "list", "--email", sample_db.emails[other], "--json", "--database-url", url).out)
        == []
    )
    unknown = run("attempts", "list", "--email", "nobody@example.org", "--database-url", url)
    assert unknown.code == 2 and "nobody@example.org" in unknown.err


def test_analysis_shows_the_per_speaker_tables(sample_db: Any, run: Any, tmp_path: Path) -> None:
    url = _copy(sample_db, run, tmp_path)
    alias = sorted(sample_db.emails)[0]
    result = run("analysis", sample_db.emails[alias], "--json", "--database-url", url)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    others = {a for a in sample_db.emails if a != alias}
    assert {r["alias"] for r in report["intrusion_test"]["impostors"]} == others
    assert {r["alias"] for r in report["benchmark"]["others"]} == others
    assert isinstance(report["intrusion_test"]["threshold"], float)
    assert all(r["mean_score"] is not None for r in report["intrusion_test"]["impostors"])
    text = run("analysis", sample_db.emails[alias], "--database-url", url)
    assert text.code == 0 and "threshold" in text.out and all(a in text.out for a in others)
