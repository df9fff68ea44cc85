"""``SPEAKERVERIFY_TIMING_LOG``: one line per challenge and answer in the server's log, saying where its time
went (calibration, model), never who asked or anything scored; nothing of it in the response."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.testclient import TestClient

from speakerverify.http.app import create_app


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_timing_line_per_challenge_names_no_one_and_only_when_asked(api: Any, settings: Any) -> None:
    seen = Lines()
    logger = logging.getLogger("speakerverify.timing")
    logger.addHandler(seen)
    try:
        with TestClient(create_app(settings.with_(timing_log=True))) as client:
            api.client = client
            user = api.register()
            auth = api.login()
            r = client.post("/api/v1/challenges", headers=auth)
            assert r.status_code == 409  # not enrolled yet: the line says how it ended
            assert "_ms" not in r.text and "timing" not in r.text
        ops = [line for line in seen.lines if line.startswith("op=")]
        assert len(ops) == 1, seen.lines
        fields = dict(x.split("=", 1) for x in ops[0].split())
        assert fields["op"] == "challenge" and fields["status"] == "NotReady"
        assert {"total_ms", "calibration_ms", "model_ms"} <= set(fields)
        assert float(fields["total_ms"]) >= float(fields["model_ms"]) >= 0.0
        assert str(user["id"]) not in ops[0] and "ada" not in ops[0]
        with TestClient(create_app(settings)) as client:  # the default: no line
            api.client = client
            assert client.post("/api/v1/challenges", headers=api.login()).status_code == 409
        assert [line for line in seen.lines if line.startswith("op=")] == ops
    finally:
        logger.removeHandler(seen)
