"""Fixtures for the storage tests: a fresh migrated database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from speakerverify.models.gmm import DiagGMM
from speakerverify.models.ubm import UBM
from speakerverify.storage import users
from speakerverify.storage.db import Database
from support import pgserver


@pytest.fixture(params=pgserver.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(pgserver.fresh_database_url(backend, tmp_path))
    yield db
    db.dispose()


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """No schema at all (migrations not applied)."""
    db = Database(pgserver.fresh_database_url(backend, tmp_path, migrated=False))
    yield db
    db.dispose()


def _make_user(db: Database, name: str) -> uuid.UUID:
    new = users.NewUser(
        email=f"{name}@example.org",
        password_hash="$argon2id$placeholder",
        alias=name,
        gender=None,
        age_group=None,
        data_statement_version="test",
    )
    with db.write_session() as session:
        return users.create_user(session, new).id


def _tiny_ubm(ubm_id: str = "tiny-ubm", components: int = 4, dim: int = 3) -> UBM:
    rng = np.random.default_rng(0)
    gmm = DiagGMM(np.full(components, 1 / components), rng.normal(size=(components, dim)), np.ones((components, dim)))
    return UBM(gmm, {"ubm_id": ubm_id, "config_id": "mfcc-8k-v1", "post_id": "test-post"})


@pytest.fixture
def make_user() -> Callable[[Database, str], uuid.UUID]:
    """``make_user(db, name)``: insert a user ``name@example.org`` / alias ``name``; returns the id."""
    return _make_user


@pytest.fixture
def tiny_ubm() -> Callable[..., UBM]:
    """``tiny_ubm(ubm_id=..., components=4, dim=3)``: a small random UBM to store speaker models against."""
    return _tiny_ubm
