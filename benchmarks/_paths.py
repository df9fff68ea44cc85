"""Imported first by the benchmarks that use the test tooling: puts ``tests/`` on ``sys.path``, so that
``import support.server`` works here as it does under pytest (``pythonpath = ["tests"]``)."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
