"""`sample-db`, `users list` and `eer` on the FSDD sample database (the issue's first acceptance test)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from speakerverify.evaluation import metrics
from speakerverify.storage.db import Database
from speakerverify.storage.tables import User, Utterance

pytestmark = pytest.mark.slow  # the session's sample database: `sample-db` on FSDD, ~16 s


def _eer_by_sweep(target: np.ndarray, impostor: np.ndarray) -> float:
    """An independent EER: the threshold sweep minimising |FAR - FRR| (mean of the two there)."""
    best = (2.0, 1.0)
    for t in np.unique(np.concatenate([target, impostor, [np.inf]])):
        far, frr = np.mean(impostor >= t), np.mean(target < t)
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
    return best[1]


def test_sample_db_enrols_takes_0_to_5_with_consent(sample_db: Any, run: Any) -> None:
    db = Database(sample_db.url)
    try:
        with db.read_session() as session:
            people = list(session.scalars(select(User)))
            n_takes = len(list(session.scalars(select(Utterance))))
    finally:
        db.dispose()
    assert sorted(u.alias for u in people) == sorted(sample_db.passwords)
    assert len(people) == 6
    assert all(u.consented_at is not None and u.consent_model_training for u in people)
    assert n_takes == 6 * 60  # takes 0-5 of every digit, so 6-49 stay held out
    assert len(set(sample_db.passwords.values())) == 6 and all(len(p) >= 10 for p in sample_db.passwords.values())


def test_users_list_csv(sample_db: Any, run: Any) -> None:
    result = run("users", "list", "--csv", "--database-url", sample_db.url)
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert sorted(r["alias"] for r in rows) == sorted(sample_db.passwords)
    assert "email" not in rows[0]
    assert "@" not in result.out  # emails only on request
    for r in rows:
        assert [int(r[f"takes_{d}"]) for d in range(10)] == [6] * 10
        assert r["ready"] == "yes" and r["accepts"] == "0" and r["rejects"] == "0"
        assert r["last_activity"]
    with_email = run("users", "list", "--csv", "--include-email", "--database-url", sample_db.url)
    emails = {r["alias"]: r["email"] for r in csv.DictReader(io.StringIO(with_email.out))}
    assert emails == sample_db.emails
    table = run("users", "list", "--database-url", sample_db.url)
    assert table.code == 0 and "6 users" in table.out


def test_eer_report_matches_its_scores(sample_db: Any, run: Any, tmp_path: Path) -> None:
    out, det = tmp_path / "eer.json", tmp_path / "det.png"
    result = run(
        "eer", "--digits", "3", "--seed", "1", "--json", str(out), "--det", str(det), "--database-url", sample_db.url
    )
    assert result.code == 0, result.err
    report = json.loads(out.read_text())
    assert det.stat().st_size > 1000
    assert report["k"] == 3 and report["n_users"] == 6 and report["calibration"] == "deployment"
    assert sorted(r["alias"] for r in report["per_user"]) == sorted(sample_db.passwords)
    trials = report["trials"]
    target = np.array([t["score"] for t in trials if t["kind"] == "target"])
    impostor = np.array([t["score"] for t in trials if t["kind"] == "impostor"])
    assert len(target) == report["pooled"]["n_target"] == 6 * report["trials_per_user"]
    assert len(impostor) == report["pooled"]["n_impostor"] == 5 * len(target)
    assert all(len(set(t["digits"])) == 3 for t in trials)
    assert all((t["claimant"] == t["speaker"]) == (t["kind"] == "target") for t in trials)
    # The report's numbers are those of its own scores, by the library and by an independent sweep.
    pooled = report["pooled"]
    assert abs(pooled["eer"] - 100 * metrics.eer(target, impostor)) < 1e-9
    assert abs(pooled["eer"] - 100 * _eer_by_sweep(target, impostor)) <= 100 / len(target) + 1e-9
    assert abs(pooled["min_dcf"] - metrics.min_dcf(target, impostor, 0.01)) < 1e-9
    assert abs(pooled["frr_at_far1"] - 100 * metrics.frr_at_far(target, impostor, 0.01)) < 1e-9
    for row in report["per_user"]:
        mine = [t for t in trials if t["claimant"] == row["alias"]]
        t_i = np.array([t["score"] for t in mine if t["kind"] == "target"])
        i_i = np.array([t["score"] for t in mine if t["kind"] == "impostor"])
        assert (row["n_target"], row["n_impostor"]) == (len(t_i), len(i_i))
        assert abs(row["eer"] - 100 * metrics.eer(t_i, i_i)) < 1e-9
    # Genuine trials beat impostors by a wide margin on FSDD; the deployment threshold is a real operating point.
    assert np.median(target) > np.quantile(impostor, 0.99)
    assert 0 <= pooled["deployment_far"] < 10 and 0 <= pooled["deployment_frr"] < 10
    genuine_threshold = report["deployment_threshold"]["genuine"]
    assert abs(pooled["deployment_frr"] - 100 * np.mean(target < genuine_threshold)) < 1e-9
    assert report["held_out_material"]["accepted_attempts_used"] == 0
    assert "EER %" in result.out and "**pooled**" in result.out
    # The same seed gives the same report; another seed other trials.
    again = run(
        "eer", "--digits", "3", "--seed", "1", "--json", str(tmp_path / "b.json"), "--database-url", sample_db.url
    )
    assert again.code == 0
    assert json.loads((tmp_path / "b.json").read_text())["trials"] == trials


def test_eer_and_users_refuse_bad_input(sample_db: Any, run: Any, tmp_path: Path) -> None:
    bad = run("eer", "--digits", "11", "--database-url", sample_db.url)
    assert bad.code == 2 and "--digits" in bad.err
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert run("db", "upgrade", "--database-url", empty).code == 0
    none = run("eer", "--database-url", empty)
    assert none.code == 2 and "at least 2 ready users" in none.err
    unmigrated = run("users", "list", "--database-url", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert unmigrated.code == 2 and "db upgrade" in unmigrated.err
    missing = run("sample-db", "--corpus", str(tmp_path / "nowhere"), "--database-url", empty)
    assert missing.code == 2 and "nowhere" in missing.err
