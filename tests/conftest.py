"""Shared fixtures: where the shared corpora live, and skipping clearly when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FSDD = SHARED_DATA / "fsdd"
SPEECHOCEAN = SHARED_DATA / "speechocean762-8k"


@pytest.fixture(scope="session")
def fsdd() -> Path:
    if not (FSDD / "recordings").is_dir():
        pytest.skip(f"FSDD not found at {FSDD}: place the shared data folder beside the repository")
    return FSDD
