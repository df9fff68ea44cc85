"""The issue's acceptance run: the FSDD protocol against a real `speakerverify serve` process over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from speakerverify.config import SQLITE_FILE
from support import api_protocol
from support.audit import audited
from support.server import serve


@pytest.mark.slow
def test_fsdd_over_http_meets_the_operating_point(fsdd: Path, tmp_path: Path) -> None:
    env = {
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path),
        "SPEAKERVERIFY_SECRET_KEY": "acceptance-secret-0123456789-abcdefgh",
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",  # 150 impostor challenges per user: brute-force lockout off
        "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",  # and 205 challenges per user within minutes
    }
    with serve(tmp_path, [], env) as base, httpx.Client(base_url=base, timeout=60) as http:
        # The first threshold is computed in the background (the provisional one serves meanwhile): waited
        # for after enrolment, so every answer below is decided at the deployment's own threshold.
        url = f"sqlite:///{tmp_path / SQLITE_FILE}"
        result = api_protocol.run(http, str(fsdd), genuine=50, impostor=150, wrong_digit=5, database_url=url)
    summary = result.summary()
    assert result.enrol_rejected == []  # every real take passes the quality check
    assert summary["target_trials"] == 300 and summary["impostor_trials"] == 900
    # six ready users: calibrated on the deployment itself (the audit log says; the answers do not)
    calibrations = {audited(f"sqlite:///{tmp_path / SQLITE_FILE}", i).detail["calibration"] for i in result.attempt_ids}
    assert calibrations == {"deployment"}
    assert result.far <= 0.01, summary
    assert result.frr <= 0.05, summary
    assert not any(result.wrong_digit_accepted) and all(result.wrong_digit_flagged), summary
