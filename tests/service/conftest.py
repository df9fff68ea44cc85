"""Fixtures for the API tests: each test gets a fresh database, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from speakerverify.config import Argon2Params, Settings
from speakerverify.http.app import create_app
from speakerverify.storage.db import Database
from support import pgserver

# Tests only: argon2id at minimal cost keeps the suite fast; the default cost is tested separately.
FAST_ARGON2 = Argon2Params(time_cost=1, memory_kib=64, parallelism=1)
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"


@pytest.fixture(params=pgserver.BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(pgserver.fresh_database_url(request.param, tmp_path))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url, secret_key=TEST_SECRET, argon2=FAST_ARGON2)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """Direct storage access to the same database the app uses (to plant and inspect rows)."""
    db = Database(db_url)
    yield db
    db.dispose()


class Api:
    """Small helpers over a TestClient, so tests read as the user flows they check."""

    password = PASSWORD

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def register(self, email: str = "ada@example.org", alias: str = "ada_l", **extra: Any) -> dict[str, Any]:
        body = {"email": email, "password": PASSWORD, "alias": alias, "consent": True, **extra}
        response = self.client.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def login(self, email: str = "ada@example.org", password: str = PASSWORD) -> dict[str, str]:
        """Authorization headers for a new session."""
        response = self.client.post("/api/v1/sessions", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def pg_database_url() -> str:
    """A fresh, migrated PostgreSQL database on the test run's server."""
    return str(pgserver.fresh_database_url("postgresql", Path("/nonexistent")))


@pytest.fixture
def registered(settings: Settings) -> Iterator[tuple[Any, Any]]:
    """(an operator-style ``AppContext`` on the deployment, the id of the one user registered over HTTP)."""
    from sqlalchemy import select

    from speakerverify.operator.common import make_context
    from speakerverify.storage.tables import User

    ctx = make_context(settings, Database(str(settings.database_url)))
    try:
        with TestClient(create_app(settings)) as client:
            Api(client).register()
        with ctx.db.read_session() as s:
            user_id = s.scalars(select(User.id)).one()
        yield ctx, user_id
    finally:
        ctx.db.dispose()
