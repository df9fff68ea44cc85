"""API conventions: problem details, body limit, CORS, security headers, health, docs, settings."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from speakerverify.config import SECRET_FILE, Settings, SettingsError, settings_from_env
from speakerverify.http.app import create_app

PROBLEM = "application/problem+json"


def test_body_limit_with_and_without_content_length(settings: Settings) -> None:
    with TestClient(create_app(settings.with_(max_body_bytes=2048))) as client:
        big = b'{"email": "' + b"x" * 4096 + b'"}'
        declared = client.post("/api/v1/users", content=big, headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        assert declared.headers["content-type"] == PROBLEM

        def chunks() -> Iterator[bytes]:  # a streamed body: no Content-Length, chunked encoding
            for i in range(0, len(big), 512):
                yield big[i : i + 512]

        streamed = client.post("/api/v1/users", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        assert streamed.json()["status"] == 413
        small = client.post("/api/v1/users", json={"email": "a@example.org"})
        assert small.status_code == 422  # under the limit the request goes through to validation


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = client.options(
        "/api/v1/sessions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_configured_origins(settings: Settings) -> None:
    app = create_app(settings.with_(cors_origins=("https://app.example",)))
    with TestClient(app) as client:
        ok = client.options(
            "/api/v1/sessions",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        refused = client.options(
            "/api/v1/sessions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.headers.get("access-control-allow-origin") != "https://evil.example"
        got = client.get("/healthz", headers={"Origin": "https://app.example"})
        assert got.headers["access-control-allow-origin"] == "https://app.example"


def test_security_headers(client: TestClient) -> None:
    for response in (client.get("/healthz"), client.get("/api/v1/me"), client.get("/docs")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]


def test_unexpected_errors_are_generic_problems(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert response.json()["type"] == "urn:speakerverify:problem:internal-error"


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    wrong = client.put("/api/v1/me")
    assert (wrong.status_code, wrong.headers["content-type"]) == (405, PROBLEM)


def test_health_checks_the_database(client: TestClient, settings: Settings) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    unreachable = settings.with_(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    down = TestClient(create_app(unreachable))  # no lifespan: the schema check would refuse to start
    response = down.get("/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "nobody" not in response.text


def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path: Path, settings: Settings) -> None:
    empty = settings.with_(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(Exception, match="db upgrade"), TestClient(create_app(empty)):
        pass


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        "/api/v1/users": {"post"},
        "/api/v1/sessions": {"post"},
        "/api/v1/sessions/current": {"delete"},
        "/api/v1/me": {"get", "delete"},
        "/api/v1/me/export": {"get"},
        "/api/v1/data-statement": {"get"},
        "/healthz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(spec["paths"][path]), path
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    legacy = client.get("/doc", follow_redirects=False)
    assert (legacy.status_code, legacy.headers["location"]) == (308, "/docs")


# --- settings and secrets ---------------------------------------------------------------------


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    env = {"SPEAKERVERIFY_DATA_DIR": str(tmp_path / "data")}
    first = settings_from_env(env)
    key_file = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key.encode()) >= 32
    assert settings_from_env(env).secret_key == first.secret_key
    assert first.database_url == f"sqlite:///{(tmp_path / 'data' / 'speakerverify.sqlite3').resolve()}"


def test_environment_secret_wins_and_short_keys_are_refused(tmp_path: Path) -> None:
    env = {"SPEAKERVERIFY_DATA_DIR": str(tmp_path), "SPEAKERVERIFY_SECRET_KEY": "k" * 32}
    assert settings_from_env(env).secret_key == "k" * 32
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(SettingsError, match="at least 32"):
        settings_from_env({**env, "SPEAKERVERIFY_SECRET_KEY": "k" * 31})
    (tmp_path / SECRET_FILE).write_text("short\n")
    os.chmod(tmp_path / SECRET_FILE, 0o600)
    with pytest.raises(SettingsError, match="at least 32"):
        settings_from_env({"SPEAKERVERIFY_DATA_DIR": str(tmp_path)})


def test_a_world_readable_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("s" * 40)
    os.chmod(tmp_path / SECRET_FILE, 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        settings_from_env({"SPEAKERVERIFY_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SPEAKERVERIFY_TOKEN_TTL_SECONDS", "soon", "integer"),
        ("SPEAKERVERIFY_MAX_BODY_BYTES", "10", "at least"),
        ("SPEAKERVERIFY_CORS_ORIGINS", "*", "explicitly"),
    ],
)
def test_bad_settings_are_explained(tmp_path: Path, name: str, value: str, message: str) -> None:
    env = {"SPEAKERVERIFY_DATA_DIR": str(tmp_path), name: value}
    with pytest.raises(SettingsError, match=message):
        settings_from_env(env)


def test_settings_from_env(tmp_path: Path) -> None:
    env: dict[str, Any] = {
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path),
        "SPEAKERVERIFY_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "SPEAKERVERIFY_TOKEN_TTL_SECONDS": "600",
        "SPEAKERVERIFY_MAX_BODY_BYTES": "4096",
        "SPEAKERVERIFY_CORS_ORIGINS": "https://a.example/, https://b.example",
    }
    s = settings_from_env(env)
    assert (s.database_url, s.token_ttl_seconds, s.max_body_bytes) == ("postgresql+psycopg://u@h/db", 600, 4096)
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert settings_from_env(env, database_url="sqlite:///x").database_url == "sqlite:///x"
    assert "secret" not in repr(s).lower() or s.secret_key not in repr(s)
