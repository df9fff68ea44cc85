"""Accounts through the HTTP API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import numpy as np
import pytest
from argon2 import extract_parameters
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from speakerverify.app import data_statement
from speakerverify.config import Argon2Params, Settings
from speakerverify.http.app import create_app
from speakerverify.storage import utterances
from speakerverify.storage.db import Database
from speakerverify.storage.export import user_tables
from speakerverify.storage.tables import User
from support.audit import grant_voice

PROBLEM = "application/problem+json"


def _user_row(database: Database, email: str) -> User | None:
    with database.read_session() as s:
        return s.scalar(select(User).where(User.email == email))


def test_register_login_me_logout(api: Any, client: TestClient, database: Database) -> None:
    profile = api.register(email="  Ada@Example.ORG ", alias="Ada_L", demographic={"gender": "female"})
    assert profile["email"] == "ada@example.org"
    assert profile["alias"] == "Ada_L"
    assert profile["demographic"] == {"gender": "female", "age_group": None}
    assert profile["data_statement_version"] == data_statement.VERSION
    assert profile["enrolment"] == {
        "takes_per_digit": [0] * 10,
        "required_takes_per_digit": 6,
        "percent": 0,
        "ready": False,
    }
    row = _user_row(database, "ada@example.org")
    assert row is not None and str(row.id) == profile["id"]
    assert row.data_statement_version == data_statement.VERSION
    assert row.password_hash.startswith("$argon2id$")
    assert api.password not in row.password_hash

    headers = api.login(email="ADA@example.org")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == profile
    assert client.delete("/api/v1/sessions/current", headers=headers).status_code == 204
    after = client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == PROBLEM
    assert after.headers["www-authenticate"].startswith("Bearer")
    assert client.delete("/api/v1/sessions/current", headers=headers).status_code == 401


def test_register_sets_location(client: TestClient) -> None:
    # 10 characters are long enough when they are hard to guess (issue 13: "0123456789" no longer is)
    body = {"email": "b@example.org", "password": "Vu4!mwq8Lp", "alias": "bee", "consent": True}
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/me"


def test_token_claims(api: Any, client: TestClient, settings: Settings) -> None:
    uid = api.register()["id"]
    response = client.post("/api/v1/sessions", json={"email": "ada@example.org", "password": api.password})
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], settings.secret_key, algorithms=["HS256"], issuer="speakerverify")
    assert claims["sub"] == uid
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["jti"]) >= 32
    second = jwt.decode(api.login()["Authorization"][7:], options={"verify_signature": False})
    assert second["jti"] != claims["jti"]


def test_logout_revokes_only_that_session(api: Any, client: TestClient) -> None:
    api.register()
    phone, laptop = api.login(), api.login()
    assert client.delete("/api/v1/sessions/current", headers=phone).status_code == 204
    assert client.get("/api/v1/me", headers=phone).status_code == 401
    assert client.get("/api/v1/me", headers=laptop).status_code == 200


_VALID = {"email": "c@example.org", "password": "long enough pw", "alias": "cee", "consent": True}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"email": "not-an-email"}, "#/email"),
        ({"email": "a@b"}, "#/email"),
        ({"email": "x" * 250 + "@example.org"}, "#/email"),
        ({"password": "9 chars!!"}, "#/password"),
        ({"password": "x" * 1025}, "#/password"),
        ({"alias": "ab"}, "#/alias"),
        ({"alias": "a" * 33}, "#/alias"),
        ({"alias": "has space"}, "#/alias"),
        ({"alias": "<script>"}, "#/alias"),
        ({"consent": False}, "#/consent"),
        ({"consent": None}, "#/consent"),
        ({"demographic": {"gender": "robot"}}, "#/demographic/gender"),
        ({"demographic": {"age_group": "12-17"}}, "#/demographic/age_group"),
        ({"demographic": {"shoe_size": 9}}, "#/demographic/shoe_size"),
        ({"unexpected": 1}, "#/unexpected"),
        ({"email": 42}, "#/email"),
    ],
)
def test_register_rejects_bad_fields_with_pointers(client: TestClient, change: dict[str, Any], pointer: str) -> None:
    response = client.post("/api/v1/users", json={**_VALID, **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("validation-error") and problem["title"]
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert all(e["detail"] for e in problem["errors"])


@pytest.mark.parametrize("missing", ["email", "password", "alias", "consent"])
def test_register_requires_fields(client: TestClient, missing: str) -> None:
    body = {k: v for k, v in _VALID.items() if k != missing}
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == [f"#/{missing}"]


@pytest.mark.parametrize("body", [b"{", b"", b"[1, 2]", b"null", "\u00e9".encode("latin-1")])
def test_unparseable_bodies_are_4xx_problems(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/users", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == response.status_code


def test_duplicates_are_conflicts(api: Any, client: TestClient) -> None:
    # Issue 13: one answer for a taken email and a taken alias (it used to say which: email-taken /
    # alias-taken, confirming that an email has an account).
    api.register(email="d@example.org", alias="Dee")
    same_email = {**_VALID, "email": "D@EXAMPLE.org", "alias": "other"}
    by_email = client.post("/api/v1/users", json=same_email)
    same_alias = {**_VALID, "email": "e@example.org", "alias": "dEE"}
    by_alias = client.post("/api/v1/users", json=same_alias)
    assert (by_email.status_code, by_email.json()["type"]) == (409, "urn:speakerverify:problem:already-registered")
    assert by_email.json() == by_alias.json()


def test_consent_to_an_outdated_statement_is_refused(client: TestClient, database: Database) -> None:
    stale = client.post("/api/v1/users", json={**_VALID, "data_statement_version": "1999-01"})
    assert stale.status_code == 409
    assert _user_row(database, _VALID["email"]) is None
    current = client.post("/api/v1/users", json={**_VALID, "data_statement_version": data_statement.VERSION})
    assert current.status_code == 201


def test_unknown_email_and_wrong_password_get_the_same_answer(api: Any, client: TestClient) -> None:
    api.register()
    wrong = client.post("/api/v1/sessions", json={"email": "ada@example.org", "password": "wrong password"})
    unknown = client.post("/api/v1/sessions", json={"email": "nobody@example.org", "password": api.password})
    malformed = client.post("/api/v1/sessions", json={"email": "nonsense", "password": api.password})
    assert wrong.status_code == unknown.status_code == malformed.status_code == 401
    assert wrong.json() == unknown.json() == malformed.json()
    assert wrong.headers["content-type"] == PROBLEM


def _forge(claims: dict[str, Any], key: str, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _claims(uid: str, **over: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": uid,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(hours=1),
        "iss": "speakerverify",
    } | over


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery reuses our key
def test_bad_tokens_are_refused(api: Any, client: TestClient, settings: Settings) -> None:
    uid = api.register()["id"]
    key = settings.secret_key
    good = _forge(_claims(uid), key)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(uid) | {'iat': 0, 'exp': 2**31})}."
    bad = {
        "no header": None,
        "wrong scheme": f"Basic {good}",
        "garbage": "Bearer not.a.token",
        "alg none": f"Bearer {unsigned}",
        "other algorithm": "Bearer " + _forge(_claims(uid), key, "HS512"),
        "other key": "Bearer " + _forge(_claims(uid), "another-secret-key-that-is-long-enough-000"),
        "expired": "Bearer " + _forge(_claims(uid, exp=datetime.now(UTC) - timedelta(seconds=5)), key),
        "no jti": "Bearer " + _forge({k: v for k, v in _claims(uid).items() if k != "jti"}, key),
        "no exp": "Bearer " + _forge({k: v for k, v in _claims(uid).items() if k != "exp"}, key),
        "other issuer": "Bearer " + _forge(_claims(uid, iss="someone-else"), key),
        "sub not a uuid": "Bearer " + _forge(_claims("1 OR 1=1"), key),
        "unknown user": "Bearer " + _forge(_claims(str(uuid.uuid4())), key),
        "oversized jti": "Bearer " + _forge(_claims(uid, jti="j" * 65), key),
    }
    for name, value in bad.items():
        headers = {} if value is None else {"Authorization": value}
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, name
        assert response.headers["content-type"] == PROBLEM, name


def test_erasing_the_account_removes_everything(api: Any, client: TestClient, database: Database) -> None:
    uid = uuid.UUID(api.register()["id"])
    headers = api.login()
    with database.write_session() as s:
        utterances.add_utterance(s, uid, 5, "mfcc-8k-v1", np.ones((4, 13)), np.ones(4))
    other = api.login()
    assert client.delete("/api/v1/me", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=other).status_code == 401  # every session of the account ends
    assert client.delete("/api/v1/me", headers=headers).status_code == 401
    response = client.post("/api/v1/sessions", json={"email": "ada@example.org", "password": api.password})
    assert response.status_code == 401
    with database.read_session() as s:
        assert s.get(User, uid) is None
        for table in user_tables():
            assert s.scalar(select(func.count()).select_from(table).where(table.c.user_id == uid)) == 0
    api.register()  # the email and alias are free again


def test_me_shows_enrolment_progress(api: Any, client: TestClient, database: Database) -> None:
    uid = uuid.UUID(api.register()["id"])
    headers = api.login()
    with database.write_session() as s:
        for digit in range(10):
            for _ in range(6 if digit else 3):
                utterances.add_utterance(s, uid, digit, "mfcc-8k-v1", np.ones((2, 13)), np.ones(2))
    enrolment = client.get("/api/v1/me", headers=headers).json()["enrolment"]
    assert enrolment["takes_per_digit"] == [3] + [6] * 9
    assert enrolment["percent"] == 95 and enrolment["ready"] is False
    with database.write_session() as s:
        for _ in range(3):
            utterances.add_utterance(s, uid, 0, "mfcc-8k-v1", np.ones((2, 13)), np.ones(2))
    enrolment = client.get("/api/v1/me", headers=headers).json()["enrolment"]
    assert enrolment["percent"] == 100 and enrolment["ready"] is True


def test_export_has_everything_but_the_password_hash(api: Any, client: TestClient, database: Database) -> None:
    profile = api.register(demographic={"age_group": "25-34"})
    uid = uuid.UUID(profile["id"])
    headers = api.login()
    with database.write_session() as s:
        utterances.add_utterance(s, uid, 2, "mfcc-8k-v1", np.full((3, 13), 0.25), np.array([1.0, 2.0, 3.0]))
    grant_voice(database, headers)  # the export is a two-factor action (tests/service/test_no_oracle.py)
    response = client.get("/api/v1/me/export", headers=headers)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    [user] = data["records"]["users"]
    assert (user["id"], user["email"], user["alias"], user["age_group"]) == (
        profile["id"],
        "ada@example.org",
        "ada_l",
        "25-34",
    )
    assert user["data_statement_version"] == data_statement.VERSION
    assert "$argon2" not in response.text
    [utt] = data["records"]["utterances"]
    assert utt["digit"] == 2 and utt["mfcc"] == [[0.25] * 13] * 3
    # Energies are stored as float16 ln(1 + E), the wire form's precision: the export gives them back to it.
    np.testing.assert_allclose(np.log1p(utt["energy"]), np.log1p([1.0, 2.0, 3.0]), rtol=2**-10)
    assert set(data["records"]) == {"users"} | {t.name for t in user_tables()}


def test_data_statement_is_public_and_describes_this_service(client: TestClient, settings: Settings) -> None:
    response = client.get("/api/v1/data-statement")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == data_statement.VERSION
    text = " ".join(s["text"] for s in body["sections"])
    assert {"what", "why", "how-long", "your-rights"} <= {s["id"] for s in body["sections"]}
    for claim in ("DELETE /api/v1/me", "GET /api/v1/me/export", "argon2id", "1 hour", "Audio never leaves"):
        assert claim in text
    # Every route the statement names exists.
    paths = client.get("/openapi.json").json()["paths"]
    assert "delete" in paths["/api/v1/me"] and "get" in paths["/api/v1/me/export"]


def test_hashes_are_upgraded_when_the_cost_changes(settings: Settings, database: Database) -> None:
    with TestClient(create_app(settings)) as client:
        body = {"email": "f@example.org", "password": "long enough pw", "alias": "eff", "consent": True}
        assert client.post("/api/v1/users", json=body).status_code == 201
    before = _user_row(database, "f@example.org")
    assert before is not None and extract_parameters(before.password_hash).memory_cost == 64
    stronger = settings.with_(argon2=Argon2Params(time_cost=2, memory_kib=128, parallelism=1))
    with TestClient(create_app(stronger)) as client:
        login = {"email": "f@example.org", "password": "long enough pw"}
        assert client.post("/api/v1/sessions", json=login).status_code == 201
    after = _user_row(database, "f@example.org")
    assert after is not None
    assert (extract_parameters(after.password_hash).memory_cost, extract_parameters(after.password_hash).time_cost) == (
        128,
        2,
    )


def test_default_password_hashing_is_argon2id_with_rfc9106_cost() -> None:
    params = Argon2Params()
    assert (params.time_cost, params.memory_kib, params.parallelism) == (3, 65536, 4)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_login_timing_does_not_reveal_whether_the_email_exists(settings: Settings) -> None:
    """At the default argon2id cost, an unknown email costs as much as a wrong password."""
    with TestClient(create_app(settings.with_(argon2=Argon2Params()))) as client:
        body = {"email": "g@example.org", "password": "long enough pw", "alias": "gee", "consent": True}
        assert client.post("/api/v1/users", json=body).status_code == 201

        def median_seconds(email: str, rounds: int = 5) -> float:
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                response = client.post("/api/v1/sessions", json={"email": email, "password": "wrong password!"})
                times.append(time.perf_counter() - start)
                assert response.status_code == 401
            return sorted(times)[rounds // 2]

        wrong_password, unknown_email = median_seconds("g@example.org"), median_seconds("nobody@example.org")
    print(f"login median: wrong password {wrong_password * 1000:.1f} ms, unknown email {unknown_email * 1000:.1f} ms")
    assert wrong_password > 0.01  # the real cost was used (else the comparison means nothing)
    assert 0.5 < unknown_email / wrong_password < 2.0
