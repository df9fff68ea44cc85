"""Issue 13: accounts and HTTP that hold against an attacker who has the password, a session and any
number of accounts. In-process (TestClient on the real app, SQLite and PostgreSQL); the uvicorn-level
attacks (forwarded headers, header size, idle connections) are in test_hardening_process.py.

Each test counts what it tried and what was refused and prints "N tried, N refused" (run with -s).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, select

from speakerverify import cli, config
from speakerverify.config import LoginLimits, Settings
from speakerverify.http.app import create_app
from speakerverify.storage.db import Database
from speakerverify.storage.tables import RateLimit, User, VerificationLockout, utcnow

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@contextmanager
def client_at(settings: Settings, address: str) -> Iterator[TestClient]:
    """A client whose requests come from ``address`` (what uvicorn would put in the scope)."""
    with TestClient(create_app(settings), client=(address, 40000)) as c:
        yield c


def _register(client: TestClient, email: str, alias: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/users", json={"email": email, "password": password, "alias": alias, "consent": True})


def _login(client: TestClient, email: str, password: str) -> Any:
    return client.post("/api/v1/sessions", json={"email": email, "password": password})


def report(attack: str, tried: int, refused: int) -> None:
    print(f"{attack}: {tried} tried, {refused} refused")


# --- login throttles -----------------------------------------------------------------------------


def test_strangers_cannot_lock_the_owner_out(settings: Settings) -> None:
    """Before: 10 wrong passwords from anyone refused the owner's right one for 15 minutes."""
    limits = LoginLimits(per_account=3, per_address=1000, window_seconds=900, delay_seconds=60)
    s = settings.with_(login_limits=limits)
    with client_at(s, "203.0.113.7") as owner:
        assert _register(owner, "owner@example.org", "owner").status_code == 201
    attacker_addresses = [f"198.51.100.{i}" for i in range(1, 11)]
    attacker_refused = 0
    for address in attacker_addresses:  # ten addresses, 20 wrong passwords each
        with client_at(s, address) as attacker:
            codes = [_login(attacker, "owner@example.org", f"guess {i}").status_code for i in range(20)]
        assert codes[:3] == [401] * 3 and set(codes[3:]) == {429}  # each address waits after its 3 failures
        attacker_refused += codes.count(429)
    with client_at(s, "203.0.113.7") as owner:  # the owner's own address has not failed: never refused
        assert _login(owner, "owner@example.org", PASSWORD).status_code == 201
    with client_at(s, "192.0.2.99") as elsewhere:  # nor from any fresh address
        assert _login(elsewhere, "owner@example.org", PASSWORD).status_code == 201
    report("lock the owner out (200 wrong passwords from 10 addresses; owner's logins)", 2, 0)
    report("guessing past the per-(account, address) limit", 200 - 30, attacker_refused)
    assert attacker_refused == 170


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_failures_earn_a_growing_wait_and_success_clears_it(settings: Settings) -> None:
    limits = LoginLimits(per_account=2, per_address=0, window_seconds=60, delay_seconds=1)
    with client_at(settings.with_(login_limits=limits), "198.51.100.1") as c:
        assert _register(c, "ada@example.org", "ada_l").status_code == 201
        assert [_login(c, "ada@example.org", "wrong one").status_code for _ in range(2)] == [401, 401]
        waits = []
        for _ in range(3):  # each failure beyond the limit doubles the wait: 1 s, 2 s, 4 s
            refused = _login(c, "ada@example.org", PASSWORD)  # even the right password, from *this* address
            assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
            waits.append(int(refused.headers["Retry-After"]))
            time.sleep(waits[-1] + 0.1)
            assert _login(c, "ada@example.org", "wrong again").status_code == 401
        assert waits == [1, 2, 4]
        time.sleep(8.1)
        assert _login(c, "ada@example.org", PASSWORD).status_code == 201  # after the wait: in, and forgiven
        assert [_login(c, "ada@example.org", "wrong one").status_code for _ in range(2)] == [401, 401]


def test_per_address_limit_across_accounts(settings: Settings, database: Database) -> None:
    limits = LoginLimits(per_account=0, per_address=5, window_seconds=900)
    s = settings.with_(login_limits=limits)
    with client_at(s, "198.51.100.2") as spray:  # one address trying one password on many accounts
        codes = [_login(spray, f"user{i}@example.org", "Summer2026!").status_code for i in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    with client_at(s, "203.0.113.8") as other:
        assert _register(other, "ada@example.org", "ada_l").status_code == 201
        assert _login(other, "ada@example.org", PASSWORD).status_code == 201
    with database.read_session() as session:  # counters are keyed by hashes only
        keys = session.scalars(select(RateLimit.key)).all()
    assert keys and all(len(k) == 64 and "@" not in k and "198.51" not in k for k in keys)
    report("password spraying from one address", 25, codes.count(429))


def test_login_throttle_settings_come_from_the_environment(tmp_path: Path) -> None:
    from speakerverify.config import settings_from_env

    env = {
        "SPEAKERVERIFY_SECRET_KEY": "x" * 40,
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path),
        "SPEAKERVERIFY_LOGIN_MAX_FAILURES": "0",
        "SPEAKERVERIFY_LOGIN_DELAY_SECONDS": "3",
        "SPEAKERVERIFY_REGISTER_MAX_PER_ADDRESS": "0",
        "SPEAKERVERIFY_REGISTER_WINDOW_SECONDS": "60",
        "SPEAKERVERIFY_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
        "SPEAKERVERIFY_MAX_HEADER_BYTES": "8192",
        "SPEAKERVERIFY_REQUEST_TIMEOUT_SECONDS": "0",
        "SPEAKERVERIFY_KEEPALIVE_SECONDS": "7",
    }
    s = settings_from_env(env)
    assert (s.login_limits.per_account, s.login_limits.delay_seconds) == (0, 3)
    assert s.registration_limits == config.RegistrationLimits(per_address=0, window_seconds=60)
    assert s.server.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    assert (s.server.max_header_bytes, s.server.request_timeout_seconds, s.server.keepalive_seconds) == (8192, 0, 7)
    assert settings_from_env({k: v for k, v in env.items() if "PROX" not in k}).server.trusted_proxies == ()
    for bad in ("*", "not-an-address"):
        with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
            settings_from_env({**env, "SPEAKERVERIFY_TRUSTED_PROXIES": bad})


# --- registration --------------------------------------------------------------------------------


def test_registration_is_rate_limited_per_address(settings: Settings) -> None:
    s = settings.with_(registration_limits=config.RegistrationLimits(per_address=3, window_seconds=3600))
    with client_at(s, "198.51.100.3") as sybil:
        codes = [_register(sybil, f"s{i}@example.org", f"sybil{i}").status_code for i in range(20)]
        assert codes[:3] == [201] * 3 and set(codes[3:]) == {429}
        refused = _register(sybil, "t@example.org", "tee")
        assert refused.headers["content-type"] == PROBLEM and int(refused.headers["Retry-After"]) > 3500
    with client_at(s, "203.0.113.9") as other:  # someone else is not affected
        assert _register(other, "ada@example.org", "ada_l").status_code == 201
    report("mass registration from one address", 17, codes[3:].count(429))


WEAK = ["aaaaaaaaaa", "password12", "1234567890", "qwertyuiop", "Password123!", "iloveyou2026", "ada_lovelace1"]


def test_guessable_passwords_are_refused_with_a_reason(client: TestClient) -> None:
    refused = 0
    for password in WEAK:
        r = _register(client, "ada@example.org", "ada_lovelace", password)
        assert r.status_code == 422, (password, r.text)
        problem = r.json()
        assert problem["type"].endswith("weak-password") and r.headers["content-type"] == PROBLEM
        assert [e["pointer"] for e in problem["errors"]] == ["#/password"] and problem["errors"][0]["detail"]
        refused += 1
    assert _register(client, "ada@example.org", "ada_lovelace", "kettle orbit lantern").status_code == 201
    report("guessable passwords", len(WEAK), refused)


def test_password_change_is_held_to_the_same_rule(client: TestClient) -> None:
    assert _register(client, "ada@example.org", "ada_l").status_code == 201
    auth = {"Authorization": "Bearer " + _login(client, "ada@example.org", PASSWORD).json()["access_token"]}
    body = {"current_password": PASSWORD, "new_password": "password12"}
    r = client.put("/api/v1/me/password", json=body, headers=auth)
    assert r.status_code == 422 and [e["pointer"] for e in r.json()["errors"]] == ["#/new_password"]


def test_the_409_does_not_say_which_field_is_taken(client: TestClient) -> None:
    assert _register(client, "ada@example.org", "ada_l").status_code == 201
    by_email = _register(client, "ada@example.org", "fresh_alias")
    by_alias = _register(client, "fresh@example.org", "ADA_L")
    both = _register(client, "ADA@example.org", "ada_l")
    assert by_email.status_code == by_alias.status_code == both.status_code == 409
    assert by_email.json() == by_alias.json() == both.json()
    assert "email" not in by_email.json()["type"] and "errors" not in by_email.json()
    report("409 naming the taken field", 3, 3)


# --- strict types --------------------------------------------------------------------------------

COERCIBLE: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/users", {"consent": 1}),
    ("/api/v1/users", {"consent": "true"}),
    ("/api/v1/users", {"alias": 12345}),
    ("/api/v1/users", {"password": 12345678901}),
    ("/api/v1/enrolment/utterances", {"digit": "3"}),
    ("/api/v1/enrolment/utterances", {"digit": True}),
    ("/api/v1/enrolment/utterances", {"digit": 3.0}),
    ("/api/v1/enrolment/utterances", {"digit": "3.5"}),
    ("/api/v1/enrolment/utterances", {"config_id": 1}),
]


def test_request_fields_are_strictly_typed(client: TestClient) -> None:
    assert _register(client, "ada@example.org", "ada_l").status_code == 201
    auth = {"Authorization": "Bearer " + _login(client, "ada@example.org", PASSWORD).json()["access_token"]}
    take: dict[str, Any] = {"config_id": "mfcc-8k-v1", "digit": 3, "mfcc": [[0.0] * 13] * 20, "energy": [1.0] * 20}
    register: dict[str, Any] = {"email": "bee@example.org", "password": PASSWORD, "alias": "bee", "consent": True}
    refused = 0
    for path, change in COERCIBLE:
        body = {**(register if path.endswith("users") else take), **change}
        r = client.post(path, json=body, headers=auth)
        assert r.status_code == 422, (change, r.text)
        assert [e["pointer"] for e in r.json()["errors"]] == ["#/" + next(iter(change))]
        refused += 1
    answer = {"challenge_id": "x", "segments": [{"digit": "3", "mfcc": [[0.0] * 13] * 20, "energy": [1.0] * 20}]}
    r = client.post("/api/v1/verifications", json=answer, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "#/segments/0/digit"
    refused += 1
    report("coercible values in JSON bodies", len(COERCIBLE) + 1, refused)


def test_binary_headers_are_strictly_typed(client: TestClient) -> None:
    from speakerverify.features import wire

    assert _register(client, "ada@example.org", "ada_l").status_code == 201
    auth = {"Authorization": "Bearer " + _login(client, "ada@example.org", PASSWORD).json()["access_token"]}
    auth["Content-Type"] = "application/vnd.speakerverify.frames"
    refused = 0
    for digit in ("3", True, 3.0):
        header = {"config_id": "mfcc-8k-v1", "digit": digit, "frames": 20}
        body = wire.pack(header, bytes(20 * 28))
        r = client.post("/api/v1/enrolment/utterances", content=body, headers=auth)
        assert r.status_code == 422, (digit, r.text)
        assert "digit" in r.json()["errors"][0]["pointer"], r.text  # refused for the digit, not the arrays
        refused += 1
    report("coercible values in binary headers", 3, refused)


# --- emails --------------------------------------------------------------------------------------

HOSTILE_EMAILS = [
    "ada\x00@example.org",
    "ada@exa\x00mple.org",
    "ada\n@example.org",
    "\u202eada@example.org",  # right-to-left override
    "ada\u2066@example.org",  # left-to-right isolate
    "ad\u200ba@example.org",  # zero-width space
    "ad\u200da@example.org",  # zero-width joiner
    "ada@exam\u200cple.org",  # zero-width non-joiner
    "\ufeffada@example.org",  # byte-order mark
    "ada@example.org\u2028",  # line separator
]


def test_emails_with_control_bidi_or_invisible_characters_are_refused(client: TestClient) -> None:
    refused = 0
    for i, email in enumerate(HOSTILE_EMAILS):
        r = _register(client, email, f"user{i}")
        assert r.status_code == 422, (repr(email), r.text)
        assert [e["pointer"] for e in r.json()["errors"]] == ["#/email"]
        refused += 1
    assert _register(client, "Ada.Lovelace+sv@Example.ORG", "ada_l").json()["email"] == "ada.lovelace+sv@example.org"
    report("emails with NUL, bidi or zero-width characters", len(HOSTILE_EMAILS), refused)


# --- static files and docs -----------------------------------------------------------------------

ODD_PATHS = [
    "/static/%00",
    "/static/js/%00main.js",
    "/static/" + "a" * 300,
    "/static/" + "a" * 300 + ".js",
    "/static/" + "/".join(["a" * 200] * 30),
    "/static/..%2F..%2Fpyproject.toml",
    "/static/%2e%2e/index.html",
    "/static/js",
    "/static/js/",
    "/static/%ff%fe.js",
    "/static/vendor/%00",
    "/static/vendor/swagger-ui/%00",
    "/static/vendor/swagger-ui/package.json",
]


def test_odd_static_names_are_404_problems(client: TestClient) -> None:
    refused = 0
    for path in ODD_PATHS:
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (path, r.status_code)
        refused += 1
    assert client.get("/static/js/main.js").status_code == 200
    report("odd static file names (500 before)", len(ODD_PATHS), refused)


def test_docs_load_swagger_ui_from_this_origin_only(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "http://" not in docs.text and "https://" not in docs.text  # no CDN, no remote favicon
    csp = docs.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        sources = directives[name].split()
        assert all(src in ("'self'", "data:") or src.startswith("'sha256-") for src in sources), (name, sources)
    assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{asset}" in docs.text
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200  # npm ci installed it


# --- files on disk -------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_database_and_backups_are_owner_only(settings: Settings, tmp_path: Path) -> None:
    from speakerverify.operator.backup import backup

    old = os.umask(0o022)  # the usual umask, which made them 0644
    try:
        with TestClient(create_app(settings)) as c:
            assert _register(c, "ada@example.org", "ada_l").status_code == 201
            database = Path(str(make_url(settings.database_url).database))
            files = [database, *(Path(f"{database}{s}") for s in ("-wal", "-shm") if Path(f"{database}{s}").exists())]
            copy = tmp_path / "backup.sqlite3"
            backup(settings, copy)
            files.append(copy)
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}  # while -wal/-shm exist
    finally:
        os.umask(old)
    assert len(modes) >= 3 and set(modes.values()) == {0o600}, modes
    report("database, -wal/-shm and backup files readable by others", len(modes), len(modes))


# --- operator unlock -----------------------------------------------------------------------------


def test_users_unlock_lifts_the_lockout_and_login_throttles(
    settings: Settings, database: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = LoginLimits(per_account=2, per_address=0, window_seconds=900, delay_seconds=600)
    s = settings.with_(login_limits=limits)
    with client_at(s, "198.51.100.4") as c:
        assert _register(c, "ada@example.org", "ada_l").status_code == 201
        assert [_login(c, "ada@example.org", "wrong pw").status_code for _ in range(3)] == [401, 401, 429]
    with database.write_session() as session:
        user = session.scalar(select(User).where(User.email == "ada@example.org"))
        assert user is not None
        session.add(VerificationLockout(user_id=user.id, failures=0, level=3, locked_until=utcnow().replace(year=2100)))
    monkeypatch.setenv("SPEAKERVERIFY_SECRET_KEY", s.secret_key)
    monkeypatch.setenv("SPEAKERVERIFY_DATA_DIR", str(s.data_dir))
    assert cli.main(["users", "unlock", "ADA@example.org", "--database-url", s.database_url]) == 0
    assert "1 login counters removed" in capsys.readouterr().out
    with database.read_session() as session:
        row = session.get(VerificationLockout, user.id)
        assert row is not None and row.locked_until is None and row.level == 0
    with client_at(s, "198.51.100.4") as c:
        assert _login(c, "ada@example.org", PASSWORD).status_code == 201
    assert cli.main(["users", "unlock", "nobody@example.org", "--database-url", s.database_url]) == 2
