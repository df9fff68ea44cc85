"""The issue's acceptance run: the FSDD protocol against a real `speakerverify serve` process over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support import api_protocol
from support.server import serve


@pytest.mark.slow
def test_fsdd_over_http_meets_the_operating_point(fsdd: Path, tmp_path: Path) -> None:
    env = {
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path),
        "SPEAKERVERIFY_SECRET_KEY": "acceptance-secret-0123456789-abcdefgh",
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",  # 250 impostor challenges per user: brute-force lockout off
    }
    with serve(tmp_path, [], env) as base, httpx.Client(base_url=base, timeout=60) as http:
        result = api_protocol.run(http, str(fsdd), genuine=50, impostor=250, wrong_digit=5)
    summary = result.summary()
    assert result.enrol_rejected == []  # every real take passes the quality check
    assert summary["target_trials"] == 300 and summary["impostor_trials"] == 1500
    assert summary["calibration"] == ["deployment"]  # six ready users: calibrated on the deployment itself
    assert result.far <= 0.01, summary
    assert result.frr <= 0.05, summary
    assert not any(result.wrong_digit_accepted) and all(result.wrong_digit_flagged), summary
