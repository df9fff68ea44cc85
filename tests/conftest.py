"""Shared fixtures: the shared corpora, skipping clearly when they are absent (failing under CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.shared_data import require_fsdd, require_speechocean


@pytest.fixture(scope="session")
def fsdd() -> Path:
    return require_fsdd()


@pytest.fixture(scope="session")
def speechocean() -> Path:
    return require_speechocean()
