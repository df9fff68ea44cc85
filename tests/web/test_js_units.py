"""The web client's pure JavaScript modules, unit-tested in Node (`node --test tests/node/*.test.mjs`),
so the one pytest command covers them too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def test_node_unit_tests() -> None:
    node = shutil.which("node")
    if node is None:
        # On CI a missing node is a broken set-up, not a reason to pass quietly.
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("node is not installed, so the web client's unit tests (tests/node/*.test.mjs) cannot run")
        pytest.skip("node is not installed: the web client's unit tests (tests/node/*.test.mjs) were not run")
    files = sorted(NODE_DIR.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {NODE_DIR}"
    result = subprocess.run(
        [node, "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", "--test", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
