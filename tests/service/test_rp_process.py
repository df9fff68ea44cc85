"""The acceptance run, black box: only the documented commands and routes, against a real `speakerverify
serve` process. Create two applications with the CLI, enrol a subject through enrol sessions with FSDD takes
(as many as the service asks for), verify through verify sessions, and check each result_token with PyJWT
against the JWKS: the right aud, sub, nonce and decision (accept for the speaker, reject for another)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from support import pgserver
from support.fsdd import segments_for, take, utterance
from support.server import serve, speakerverify_command

SECRET = "rp-black-box-secret-0123456789-abcdefghij"
ISSUER = "https://voice.example"
SESSION_TTL = 10  # the shortest allowed: the test waits for one session to expire
SPEAKER, OTHER = "george", "nicolas"

pytestmark = pytest.mark.slow


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKERVERIFY_")} | env
    done = subprocess.run(
        [*speakerverify_command(), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


class Relying:
    """An application's backend, talking to the service with its Basic credentials."""

    def __init__(self, base: str, creds: dict[str, Any]) -> None:
        self.base, self.creds = base, creds
        self.auth = (creds["client_id"], creds["client_secret"])

    def session(self, subject: str, purpose: str, nonce: str = "nonce-0") -> tuple[dict[str, str], str]:
        body = {"subject": subject, "purpose": purpose, "nonce": nonce}
        r = httpx.post(f"{self.base}/api/v1/rp/sessions", json=body, auth=self.auth, timeout=30)
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['session_token']}"}, r.json()["subject_state"]

    def subject(self, subject: str) -> httpx.Response:
        return httpx.get(f"{self.base}/api/v1/rp/subjects/{subject}", auth=self.auth, timeout=30)


def _enrol(base: str, app: Relying, subject: str, speaker: str) -> int:
    """Takes of each digit until the service says ready; a fresh enrol session per digit (they are short)."""
    sent = 0
    for digit in range(10):
        auth, state = app.session(subject, "enrol")
        assert state != "ready"
        n = 0
        while True:
            progress = httpx.get(f"{base}/api/v1/enrolment/utterances", headers=auth, timeout=30).json()["progress"]
            if progress["takes_per_digit"][digit] >= progress["required_takes_per_digit"]:
                break
            body = utterance(digit, *take(speaker, digit, n))
            r = httpx.post(f"{base}/api/v1/enrolment/utterances", json=body, headers=auth, timeout=30)
            assert r.status_code in (201, 422), r.text  # a take may be refused for its quality: send another
            sent += r.status_code == 201
            n += 1
    return sent


def _verify(base: str, app: Relying, subject: str, speaker: str, nonce: str, takes: int) -> dict[str, Any]:
    auth, state = app.session(subject, "verify", nonce)
    assert state == "ready"
    ch = httpx.post(f"{base}/api/v1/challenges", headers=auth, timeout=30)
    assert ch.status_code == 201, ch.text
    body = {"challenge_id": ch.json()["challenge_id"], "segments": segments_for(speaker, ch.json()["digits"], takes)}
    r = httpx.post(f"{base}/api/v1/verifications", json=body, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _check(base: str, app: Relying, answer: dict[str, Any], subject: str, nonce: str) -> dict[str, Any]:
    token = answer["result_token"]
    key = jwt.PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], audience=app.creds["client_id"], issuer=ISSUER)
    assert (claims["sub"], claims["nonce"], claims["decision"]) == (subject, nonce, answer["decision"])
    assert claims["amr"] == ["vbm"] and claims["exp"] - claims["iat"] <= 120 and "score" not in claims
    return dict(claims)


@pytest.mark.parametrize("backend", pgserver.BACKENDS)
def test_black_box_enrol_and_verify_through_applications(tmp_path: Path, backend: str) -> None:
    """The CLI and the server share the database: SQLite in the data directory, or PostgreSQL."""
    env = {
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path),
        "SPEAKERVERIFY_DATABASE_URL": str(pgserver.fresh_database_url(backend, tmp_path)),
        "SPEAKERVERIFY_SECRET_KEY": SECRET,
        "SPEAKERVERIFY_PUBLIC_URL": ISSUER,
        "SPEAKERVERIFY_RP_SESSION_TTL_SECONDS": str(SESSION_TTL),
    }
    with serve(tmp_path, [], env) as base:
        make = ["apps", "create", "--json", "--name"]
        a = Relying(base, _cli([*make, "Shop", "--origin", "https://shop.example"], env, tmp_path))
        b = Relying(base, _cli([*make, "Bank", "--origin", "https://bank.example"], env, tmp_path))
        early, _ = a.session("alice", "verify")
        started = time.monotonic()
        assert _enrol(base, a, "alice", SPEAKER) >= 60
        assert a.subject("alice").json()["subject_state"] == "ready"

        # Application B sees nothing of A's alice: its own alice is new and cannot verify.
        assert b.subject("alice").status_code == 404
        b_auth, b_state = b.session("alice", "verify")
        assert b_state == "new"
        assert httpx.post(f"{base}/api/v1/challenges", headers=b_auth, timeout=30).status_code == 409

        # The wrong purpose is 403 both ways.
        enrol_auth, _ = a.session("alice", "enrol")
        assert httpx.post(f"{base}/api/v1/challenges", headers=enrol_auth, timeout=30).status_code == 403
        verify_auth, _ = a.session("alice", "verify")
        body = utterance(1, *take(SPEAKER, 1, 40))
        r = httpx.post(f"{base}/api/v1/enrolment/utterances", json=body, headers=verify_auth, timeout=30)
        assert r.status_code == 403

        genuine = [_verify(base, a, "alice", SPEAKER, f"g-{i}", 30 + i) for i in range(3)]
        accepted = [g for g in genuine if g["decision"] == "accept"]
        assert accepted, [g["reason"] for g in genuine]
        claims = _check(base, a, accepted[0], "alice", f"g-{genuine.index(accepted[0])}")
        impostor = _verify(base, a, "alice", OTHER, "i-0", 30)
        assert impostor["decision"] == "reject"
        _check(base, a, impostor, "alice", "i-0")

        # The result once, server to server, and only to its application.
        url = f"{base}/api/v1/rp/results/{claims['jti']}"
        assert httpx.get(url, auth=b.auth, timeout=30).status_code == 404
        assert httpx.get(url, auth=a.auth, timeout=30).json()["decision"] == "accept"
        assert httpx.get(url, auth=a.auth, timeout=30).status_code == 404

        time.sleep(max(0.0, SESSION_TTL + 1 - (time.monotonic() - started)))
        assert httpx.post(f"{base}/api/v1/challenges", headers=early, timeout=30).status_code == 401

        stats = {s["client_id"]: s for s in _cli(["apps", "stats", "--json"], env, tmp_path)}
        shop = stats[a.creds["client_id"]]
        assert shop["accepts"] == len(accepted) and shop["rejects"] == 4 - len(accepted) and shop["sessions"] >= 15


def test_schemathesis_covers_the_relying_party_routes(tmp_path: Path) -> None:
    """Every new route, fuzzed with an application's Basic credentials (and the browser routes with its
    session tokens): no server error, every response as documented."""
    from support.fuzz import fuzz_api

    env = {"SPEAKERVERIFY_DATA_DIR": str(tmp_path), "SPEAKERVERIFY_SECRET_KEY": SECRET}
    with serve(tmp_path, [], env) as base:
        creds = _cli(["apps", "create", "--json", "--name", "Fuzz", "--origin", "https://fuzz.example"], env, tmp_path)
        app = Relying(base, creds)
        raw = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
        basic = {"Authorization": f"Basic {raw}"}
        enrol, _ = app.session("fuzz-subject", "enrol")
        verify, _ = app.session("fuzz-subject", "verify")

        def auth(key: tuple[str, str]) -> dict[str, str]:
            if key[1].startswith("/api/v1/rp/"):
                return basic
            return verify if key[1] in ("/api/v1/challenges", "/api/v1/verifications") else enrol

        browser = ("/api/v1/enrolment/utterances", "/api/v1/challenges", "/api/v1/verifications")
        report = fuzz_api(
            base, max_examples=8, only=lambda p: p.startswith(("/api/v1/rp/", "/.well-known/", *browser)), auth=auth
        )
    print(report.summary())
    assert set(report.per_operation) >= {
        "POST /api/v1/rp/sessions",
        "GET /api/v1/rp/subjects/{subject}",
        "DELETE /api/v1/rp/subjects/{subject}",
        "GET /api/v1/rp/results/{jti}",
        "GET /.well-known/jwks.json",
    }, report.per_operation
    assert all(n > 0 for n in report.per_operation.values()), report.per_operation
    assert report.server_errors == 0 and report.failures == [], report.summary()
