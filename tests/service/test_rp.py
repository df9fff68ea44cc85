"""Relying-party applications: sessions, bearer sessions on the existing routes, signed results, CORS.

The attacks first: another application's session, the wrong purpose, an expired session, a wrong secret,
a tampered or replayed result token, a result fetched twice, a browser origin the application does not allow.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from speakerverify.app import applications
from speakerverify.app.applications import NewCredentials
from speakerverify.config import Settings
from speakerverify.storage.db import Database
from speakerverify.storage.tables import RpSession, utcnow
from support.fsdd import segments_for, take, utterance

ORIGIN_A = "https://a.example"
ORIGIN_B = "https://b.example"


def basic(app: NewCredentials) -> dict[str, str]:
    raw = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def new_session(client: TestClient, app: NewCredentials, subject: str, purpose: str, nonce: str = "n-1") -> Any:
    body = {"subject": subject, "purpose": purpose, "nonce": nonce}
    return client.post("/api/v1/rp/sessions", json=body, headers=basic(app))


def bearer(client: TestClient, app: NewCredentials, subject: str, purpose: str, nonce: str = "n-1") -> dict[str, str]:
    r = new_session(client, app, subject, purpose, nonce)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['session_token']}"}


@pytest.fixture
def apps(database: Database, client: TestClient) -> tuple[NewCredentials, NewCredentials]:
    return (
        applications.create(database, "App A", [ORIGIN_A]),
        applications.create(database, "App B", [ORIGIN_B]),
    )


def enrol(client: TestClient, auth: dict[str, str], speaker: str, takes: int = 6) -> None:
    for n in range(takes):
        for digit in range(10):
            r = client.post(
                "/api/v1/enrolment/utterances", json=utterance(digit, *take(speaker, digit, n)), headers=auth
            )
            assert r.status_code == 201, r.text


def answer(client: TestClient, auth: dict[str, str], speaker: str) -> Any:
    r = client.post("/api/v1/challenges", headers=auth)
    assert r.status_code == 201, r.text
    ch = r.json()
    body = {"challenge_id": ch["challenge_id"], "segments": segments_for(speaker, ch["digits"])}
    return client.post("/api/v1/verifications", json=body, headers=auth)


def test_wrong_or_missing_basic_credentials_are_401(client: TestClient, apps: Any) -> None:
    a, b = apps
    body = {"subject": "alice", "purpose": "enrol", "nonce": "x"}
    assert client.post("/api/v1/rp/sessions", json=body).status_code == 401
    wrong = NewCredentials(a.client_id, b.client_secret, a.name, a.origins)
    r = client.post("/api/v1/rp/sessions", json=body, headers=basic(wrong))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert r.headers["content-type"] == "application/problem+json"
    unknown = NewCredentials("app_nope", a.client_secret, a.name, a.origins)
    assert client.post("/api/v1/rp/sessions", json=body, headers=basic(unknown)).status_code == 401


def test_a_session_states_the_subject_and_bad_bodies_are_422(client: TestClient, apps: Any) -> None:
    a, _ = apps
    r = new_session(client, a, "alice", "enrol")
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"session_token", "expires_at", "subject_state"}
    assert r.json()["subject_state"] == "new"
    for bad in (
        {"subject": "", "purpose": "enrol", "nonce": "x"},
        {"subject": "a/b", "purpose": "enrol", "nonce": "x"},
        {"subject": "a", "purpose": "login", "nonce": "x"},
        {"subject": "a", "purpose": "enrol"},
    ):
        assert client.post("/api/v1/rp/sessions", json=bad, headers=basic(a)).status_code == 422, bad


def test_application_b_cannot_see_or_use_a_subject_of_a(client: TestClient, apps: Any) -> None:
    a, b = apps
    auth_a = bearer(client, a, "alice", "enrol")
    mfcc, energy = take("jackson", 3, 0)
    r = client.post("/api/v1/enrolment/utterances", json=utterance(3, mfcc, energy), headers=auth_a)
    assert r.status_code == 201, r.text
    take_id = r.json()["utterance_id"]
    assert client.get("/api/v1/rp/subjects/alice", headers=basic(a)).json()["subject_state"] == "enrolling"
    # B's "alice" is another subject: new, empty, and B cannot reach A's take or erase A's subject.
    assert client.get("/api/v1/rp/subjects/alice", headers=basic(b)).status_code == 404
    auth_b = bearer(client, b, "alice", "enrol")
    assert client.get("/api/v1/enrolment/utterances", headers=auth_b).json()["utterances"] == []
    assert client.delete(f"/api/v1/enrolment/utterances/{take_id}", headers=auth_b).status_code == 404
    assert client.delete("/api/v1/rp/subjects/alice", headers=basic(b)).status_code == 204  # B's own alice
    assert client.get("/api/v1/rp/subjects/alice", headers=basic(a)).json()["progress"]["takes_per_digit"][3] == 1


def test_the_wrong_purpose_is_403(client: TestClient, apps: Any) -> None:
    a, _ = apps
    enrol_auth = bearer(client, a, "alice", "enrol")
    verify_auth = bearer(client, a, "alice", "verify")
    r = client.post("/api/v1/challenges", headers=enrol_auth)
    assert r.status_code == 403 and r.json()["type"].endswith("wrong-purpose")
    assert (
        client.post("/api/v1/verifications", json={"challenge_id": "x", "segments": []}, headers=enrol_auth).status_code
        == 403
    )
    mfcc, energy = take("jackson", 3, 0)
    assert (
        client.post("/api/v1/enrolment/utterances", json=utterance(3, mfcc, energy), headers=verify_auth).status_code
        == 403
    )
    assert client.delete("/api/v1/enrolment/utterances/1", headers=verify_auth).status_code == 403
    # ...and neither reaches the first-party account routes
    assert client.get("/api/v1/me", headers=enrol_auth).status_code == 401
    assert client.get("/api/v1/verifications", headers=verify_auth).status_code == 401


def test_an_expired_or_unknown_session_is_401(client: TestClient, apps: Any, database: Database) -> None:
    a, _ = apps
    auth = bearer(client, a, "alice", "enrol")
    assert client.get("/api/v1/enrolment/utterances", headers=auth).status_code == 200
    with database.write_session() as session:
        session.execute(update(RpSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = client.get("/api/v1/enrolment/utterances", headers=auth)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert client.get("/api/v1/enrolment/utterances", headers={"Authorization": "Bearer svs_forged"}).status_code == 401


def test_deleting_the_application_ends_its_sessions_and_subjects(
    client: TestClient, apps: Any, database: Database
) -> None:
    a, _ = apps
    auth = bearer(client, a, "alice", "enrol")
    applications.delete(database, a.client_id)
    assert client.get("/api/v1/enrolment/utterances", headers=auth).status_code == 401
    assert (
        client.post(
            "/api/v1/rp/sessions", json={"subject": "a", "purpose": "enrol", "nonce": "x"}, headers=basic(a)
        ).status_code
        == 401
    )


def test_a_rotated_secret_replaces_the_old_one(client: TestClient, apps: Any, database: Database) -> None:
    a, _ = apps
    rotated = applications.rotate_secret(database, a.client_id)
    assert new_session(client, a, "alice", "enrol").status_code == 401
    assert new_session(client, rotated, "alice", "enrol").status_code == 201


def test_cors_only_for_the_sessions_own_application_origin(client: TestClient, apps: Any) -> None:
    a, _ = apps
    auth = bearer(client, a, "alice", "enrol")
    pre = {
        "Origin": ORIGIN_A,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    r = client.options("/api/v1/enrolment/utterances", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN_A
    r = client.options("/api/v1/enrolment/utterances", headers={**pre, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client.options("/api/v1/rp/sessions", headers=pre)  # server-to-server routes: no CORS at all
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/api/v1/enrolment/utterances", headers={**auth, "Origin": ORIGIN_A})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN_A
    # B's origin is registered, but not for A's session: refused, and the browser may not read why
    r = client.get("/api/v1/enrolment/utterances", headers={**auth, "Origin": ORIGIN_B})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    r = client.get("/api/v1/enrolment/utterances", headers={**auth, "Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


def test_the_first_party_site_keeps_working(client: TestClient, api: Any, apps: Any) -> None:
    api.register()
    auth = api.login()
    r = client.get("/api/v1/enrolment/utterances", headers={**auth, "Origin": ORIGIN_A})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert client.post("/api/v1/challenges", headers=auth).status_code == 409  # not enrolled, as before


def _jwks_key(client: TestClient, token: str) -> Any:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = {k["kid"]: k for k in client.get("/.well-known/jwks.json").json()["keys"]}
    return jwt.PyJWK(keys[kid]).key


def test_signed_result_tampered_replayed_and_fetched_once(client: TestClient, apps: Any, settings: Settings) -> None:
    a, b = apps
    enrol(client, bearer(client, a, "alice", "enrol"), "george")
    auth = bearer(client, a, "alice", "verify", nonce="nonce-123")
    r = answer(client, auth, "george")
    assert r.status_code == 200, r.text
    out = r.json()
    token = out["result_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and "kid" in header
    claims = jwt.decode(
        token,
        _jwks_key(client, token),
        algorithms=["ES256"],
        audience=a.client_id,
        issuer=settings.relying_parties.issuer,
    )
    assert claims["sub"] == "alice" and claims["nonce"] == "nonce-123" and claims["amr"] == ["vbm"]
    assert claims["decision"] == out["decision"] and claims["reason"] == out["reason"]
    assert claims["exp"] - claims["iat"] <= 120
    assert not {"score", "threshold", "margin"} & set(claims)
    with pytest.raises(jwt.InvalidAudienceError):  # B's backend must not accept A's result
        jwt.decode(token, _jwks_key(client, token), algorithms=["ES256"], audience=b.client_id)
    head, payload, sig = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["decision"] = "reject" if forged["decision"] == "accept" else "accept"
    tampered = ".".join([head, base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode(), sig])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, _jwks_key(client, token), algorithms=["ES256"], audience=a.client_id)
    jti = claims["jti"]
    assert client.get(f"/api/v1/rp/results/{jti}", headers=basic(b)).status_code == 404  # not B's
    r = client.get(f"/api/v1/rp/results/{jti}", headers=basic(a))
    assert r.status_code == 200 and r.json()["result_token"] == token and r.json()["decision"] == claims["decision"]
    assert client.get(f"/api/v1/rp/results/{jti}", headers=basic(a)).status_code == 404  # replayed: once only


def test_keys_rotate_publishes_both_until_the_old_one_retires(
    client: TestClient, database: Database, settings: Settings
) -> None:
    from speakerverify.app import signing
    from speakerverify.storage.tables import SigningKey

    first = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert len(first) == 1
    with database.read_session() as session:
        stored = session.get(SigningKey, first[0])
        assert stored is not None and b"ENCRYPTED PRIVATE KEY" in stored.private_pem  # never in clear
    new_kid, retired = signing.rotate(database, settings)
    assert retired == 1
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert {k["kid"] for k in keys} == {first[0], new_kid}
    assert all("d" not in k and k["alg"] == "ES256" for k in keys)  # public halves only
    token = signing.sign(database, settings, {"sub": "x"})
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    with database.write_session() as session:  # a result lifetime later
        session.execute(update(SigningKey).where(SigningKey.kid == first[0]).values(retires_at=utcnow()))
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [new_kid]


def test_a_changed_secret_key_gets_a_new_signing_key(
    database: Database, settings: Settings, client: TestClient
) -> None:
    from speakerverify.app import signing

    old = signing.ensure_key(database, settings)
    signing._loaded.clear()  # another process, which has not decrypted it yet
    changed = settings.with_(secret_key="another-secret-key-that-is-long-enough-987654321")
    new = signing.ensure_key(database, changed)
    assert new != old
    token = signing.sign(database, changed, {"sub": "x"})
    assert jwt.get_unverified_header(token)["kid"] == new


def test_sessions_per_application_are_rate_limited(settings: Settings, database: Database) -> None:
    from dataclasses import replace

    from speakerverify.http.app import create_app

    limited = settings.with_(relying_parties=replace(settings.relying_parties, sessions_per_minute=3))
    with TestClient(create_app(limited)) as client:
        a = applications.create(database, "A", [ORIGIN_A])
        b = applications.create(database, "B", [ORIGIN_B])
        assert [new_session(client, a, f"u{i}", "enrol").status_code for i in range(4)] == [201, 201, 201, 429]
        r = new_session(client, a, "u9", "enrol")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert new_session(client, b, "u1", "enrol").status_code == 201  # per application


def test_apps_stats_and_the_audit_log_name_the_subject(
    client: TestClient, apps: Any, settings: Settings, database: Database
) -> None:
    from speakerverify.operator import audit

    a, b = apps
    enrol(client, bearer(client, a, "alice", "enrol"), "jackson")
    answer(client, bearer(client, a, "alice", "verify"), "theo")  # an impostor
    stats = {s.client_id: s for s in applications.stats(database)}
    assert (stats[a.client_id].sessions, stats[a.client_id].rejects, stats[a.client_id].subjects) == (2, 1, 1)
    assert (stats[b.client_id].sessions, stats[b.client_id].accepts, stats[b.client_id].rejects) == (0, 0, 0)
    rows = audit.attempt_rows(settings)
    assert [r["alias"] for r in rows] == [f"{a.client_id}:alice"]


def test_the_public_feature_config_is_readable_from_registered_origins_only(client: TestClient, apps: Any) -> None:
    r = client.get("/api/v1/feature-config", headers={"Origin": ORIGIN_A})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN_A
    r = client.get("/api/v1/feature-config", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_the_binary_form_works_in_sessions_too(client: TestClient, apps: Any) -> None:
    from support.api_protocol import ApiClient

    a, _ = apps
    binary = ApiClient(client, "binary")  # type: ignore[arg-type]
    auth = bearer(client, a, "carol", "enrol")
    for n in range(6):
        for digit in range(10):
            assert binary.enrol(auth, digit, *take("jackson", digit, n)).status_code == 201
    auth = bearer(client, a, "carol", "verify", nonce="bin-nonce")
    ch = binary.challenge(auth)
    out = binary.verify(auth, ch["challenge_id"], [binary.segment(d, *take("jackson", d, 31)) for d in ch["digits"]])
    claims = jwt.decode(out["result_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["nonce"], claims["decision"]) == ("carol", "bin-nonce", out["decision"])
