"""The shared corpora (``../shared/data`` beside the repository) and the one rule for their absence:
skip with a clear message in development, fail under CI (``CI=true``), where missing data means a
broken set-up rather than a machine without the corpora."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
FSDD = SHARED_DATA / "fsdd"
SPEECHOCEAN = SHARED_DATA / "speechocean762-8k"


def missing(name: str, path: Path) -> NoReturn:
    """Skip the test (or fail it when ``CI=true``): ``name`` was not found at ``path``."""
    message = f"{name} not found at {path}: place the shared data folder beside the repository"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: missing shared data fails instead of skipping)", pytrace=False)
    pytest.skip(message)


def require_fsdd() -> Path:
    """The FSDD folder (with ``recordings/``), or skip/fail as ``missing`` does."""
    if not (FSDD / "recordings").is_dir():
        missing("FSDD", FSDD)
    return FSDD


def require_speechocean() -> Path:
    """The 8 kHz speechocean762 folder, or skip/fail as ``missing`` does."""
    if not SPEECHOCEAN.is_dir():
        missing("speechocean762 (8 kHz)", SPEECHOCEAN)
    return SPEECHOCEAN
