"""The real `speakerverify serve` process over HTTP: the README command on SQLite, and two
processes sharing one PostgreSQL server."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from speakerverify.config import SECRET_FILE
from speakerverify.storage import migrate
from support.server import free_port, serve, speakerverify_command

REPO = Path(__file__).resolve().parents[2]
SHARED_SECRET = "shared-secret-for-two-processes-0123456789"
PASSWORD = "correct horse battery"


def _readme_serve_args() -> list[str]:
    """The serve part of the README's first command (`bash scripts/serve.sh`: install into ./.venv, then
    `exec speakerverify serve "$@"` in the caller's directory)."""
    first = next(line.strip() for line in (REPO / "README.md").read_text().splitlines() if line.startswith("    "))
    assert shlex.split(first) == ["bash", "scripts/serve.sh"], first
    script = (REPO / "scripts" / "serve.sh").read_text()
    assert "source scripts/venv.sh" in script  # never the system interpreter (PEP 668)
    last = [line for line in script.splitlines() if line.strip() and not line.startswith("#")][-1]
    args = shlex.split(last)
    assert args[:3] == ["exec", "speakerverify", "serve"] and args[3:] == ["$@"], last
    return []


def _register(base: str, email: str, alias: str) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "alias": alias, "consent": True}
    response = httpx.post(f"{base}/api/v1/users", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _login(base: str, email: str) -> dict[str, str]:
    response = httpx.post(f"{base}/api/v1/sessions", json={"email": email, "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_readme_command_serves_on_sqlite(tmp_path: Path) -> None:
    """Fresh directory, no configuration: register -> login -> /me -> logout -> /me is 401."""
    data = tmp_path / "speakerverify-data"
    with serve(tmp_path, _readme_serve_args(), {}) as base:
        assert stat.S_IMODE((data / SECRET_FILE).stat().st_mode) == 0o600
        assert (data / "speakerverify.sqlite3").is_file()  # the default: SQLite in ./speakerverify-data
        profile = _register(base, "ada@example.org", "ada_l")
        headers = _login(base, "ada@example.org")
        me = httpx.get(f"{base}/api/v1/me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] == profile["id"]
        assert httpx.delete(f"{base}/api/v1/sessions/current", headers=headers).status_code == 204
        after = httpx.get(f"{base}/api/v1/me", headers=headers)
        assert after.status_code == 401
        assert after.headers["content-type"] == "application/problem+json"
        kept = _login(base, "ada@example.org")
    # Restarted on the same data directory: same key file, same database, tokens still valid.
    with serve(tmp_path, _readme_serve_args(), {}) as base:
        assert httpx.get(f"{base}/api/v1/me", headers=kept).json()["id"] == profile["id"]
        assert httpx.get(f"{base}/api/v1/me", headers=headers).status_code == 401


@pytest.mark.slow
def test_two_processes_share_one_postgresql(tmp_path: Path, pg_database_url: str) -> None:
    env = {"SPEAKERVERIFY_SECRET_KEY": SHARED_SECRET, "SPEAKERVERIFY_DATABASE_URL": pg_database_url}
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with (
        serve(tmp_path / "one", [], env) as one,
        serve(tmp_path / "two", ["--workers", "2", "--database-url", pg_database_url], env) as two,
    ):
        profile = _register(one, "bo@example.org", "bo_b")
        token_two = _login(two, "bo@example.org")
        assert httpx.get(f"{one}/api/v1/me", headers=token_two).json()["id"] == profile["id"]
        token_one = _login(one, "bo@example.org")
        assert httpx.delete(f"{one}/api/v1/sessions/current", headers=token_one).status_code == 204
        for _ in range(4):  # every worker of process two refuses it, whichever answers
            assert httpx.get(f"{two}/api/v1/me", headers=token_one).status_code == 401
        assert httpx.get(f"{two}/api/v1/me", headers=token_two).status_code == 200
        assert httpx.delete(f"{two}/api/v1/me", headers=token_two).status_code == 204
        assert httpx.get(f"{one}/api/v1/me", headers=token_two).status_code == 401
    assert not (tmp_path / "one" / "speakerverify-data" / SECRET_FILE).exists()  # the environment's key was used


def _run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKERVERIFY_")} | env
    return subprocess.run(
        [*speakerverify_command(), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_a_short_secret(tmp_path: Path) -> None:
    result = _run_cli(["serve", "--port", str(free_port())], {"SPEAKERVERIFY_SECRET_KEY": "too-short"}, tmp_path)
    assert result.returncode == 2
    assert "at least 32" in result.stderr and "Traceback" not in result.stderr


def test_serve_explains_an_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:9/none?connect_timeout=2"
    result = _run_cli(["serve", "--database-url", url], {}, tmp_path)
    assert result.returncode == 2
    assert "cannot prepare the database" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    first = _run_cli(["db", "upgrade", "--database-url", url], {}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"revision {migrate.head_revision()}" in first.stderr
    assert _run_cli(["db", "upgrade", "--database-url", url], {}, tmp_path).returncode == 0
