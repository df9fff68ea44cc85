"""A token of user A can never read, change or delete anything of user B, on any route."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import uuid
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from speakerverify.config import VoicePolicy
from speakerverify.http import routes as routes_package
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.ubm import UBM
from speakerverify.storage import calibrations, speaker_models, tokens, ubms, utterances
from speakerverify.storage.db import Database
from speakerverify.storage.export import user_tables
from speakerverify.storage.tables import (
    Challenge,
    LegacyAccount,
    LegacyTake,
    ReplayFingerprint,
    Utterance,
    VerificationAttempt,
    VerificationLockout,
    utcnow,
)
from support.audit import grant_voice
from support.fsdd import take

REQUIRED = VoicePolicy().takes_per_digit

# Routes anyone may call; every other route must authenticate. A new route must be classified here.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/doc"),
    ("GET", "/api/v1/data-statement"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/sessions"),
    ("GET", "/api/v1/feature-config"),
    # the web client's pages and static files
    ("GET", "/"),
    ("GET", "/index.html"),
    ("GET", "/static/vendor/{name}"),
    ("GET", "/static/{path:path}"),
    ("GET", "/widget/speakerverify.js"),  # the relying parties' widget (public, like the static files)
    # the API docs (Swagger UI, served from this origin since issue 13)
    ("GET", "/docs"),
    ("GET", "/static/vendor/swagger-ui/{name}"),
}
# Routes that take input: what A sends (naming B's resources where a route names one) and what A may get.
# A is not enrolled, so routes that need a ready model answer 409.
NOT_READY = {("POST", "/api/v1/challenges"), ("GET", "/api/v1/me/intrusion-test"), ("GET", "/api/v1/me/benchmark")}


B_VALUE = "7.75"  # B's planted numbers
# B's value as a number of its own: "7.75" is also a substring of a timestamp's "57.752723".
B_NUMBER = re.compile(r"(?<![\d.])7\.75(?!\d)")


def _features() -> dict[str, Any]:
    # Real speech frames (synthetic ones are refused as not speech). A's export shows them, and the sweep
    # looks for B's marker value as a substring of A's responses: take the first take not containing it.
    for n in range(50):
        mfcc, energy = take("george", 4, n)
        body = {"mfcc": mfcc.tolist(), "energy": energy.tolist()}
        if not B_NUMBER.search(json.dumps(body)):
            return body
    raise AssertionError(f"every take contains {B_VALUE}")


def _request_for(
    method: str, path: str, b_ids: dict[str, Any], password: str
) -> tuple[str, dict[str, Any] | None, set[int]]:
    if (method, path) == ("POST", "/api/v1/enrolment/utterances"):
        return path, {"config_id": "mfcc-8k-v1", "digit": 4, **_features()}, {201}
    if (method, path) == ("DELETE", "/api/v1/enrolment/utterances/{utterance_id}"):
        return path.replace("{utterance_id}", str(b_ids["utterance"])), None, {404}
    if (method, path) == ("POST", "/api/v1/verifications"):
        body = {"challenge_id": str(b_ids["challenge"]), "segments": [{"digit": 4, **_features()}]}
        return path, body, {404}
    if (method, path) == ("PUT", "/api/v1/me/password"):  # A changes A's own password (to the same one)
        return path, {"current_password": password, "new_password": password}, {200}
    if path.startswith("/api/v1/rp/"):  # server-to-server: an application's Basic credentials, not a user token
        return path.replace("{subject}", "bobby").replace("{jti}", "0" * 32), None, {401}
    if (method, path) in NOT_READY:
        return path, None, {409}
    if (method, path) == ("GET", "/api/v1/me/export"):  # A's session passed no voice verification
        return path, None, {403}
    return path, None, set(range(200, 400))


DESTRUCTIVE_LAST = ("DELETE",)
ERASE_ACCOUNT = ("DELETE", "/api/v1/me")


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of every router in speakerverify.http.routes, hidden ones included."""
    found = set()
    for info in pkgutil.iter_modules(routes_package.__path__):
        router = getattr(importlib.import_module(f"{routes_package.__name__}.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute):
                found |= {(m, route.path) for m in route.methods}
    assert found, "no routes found"
    # Reads first, then deletions (which end the session), erasing the account last of all.
    return sorted(found, key=lambda mp: (mp == ERASE_ACCOUNT, mp[0] in DESTRUCTIVE_LAST, mp[1], mp[0]))


def _private_routes(client: TestClient) -> list[tuple[str, str]]:
    return [r for r in _routes(client) if r not in PUBLIC]


def _plant(database: Database, uid: uuid.UUID, marker: float) -> None:
    """Rows of this user in every user table, carrying a recognisable value."""
    c, d = 2, 13
    ubm = UBM(
        DiagGMM(np.full(c, 0.5), np.zeros((c, d)), np.ones((c, d))), {"ubm_id": "u", "config_id": "x", "post_id": "y"}
    )
    with database.write_session() as s:
        ubms.put_ubm(s, ubm)
        utterances.add_utterance(s, uid, 4, "mfcc-8k-v1", np.full((2, d), marker), np.full(2, marker))
        speaker_models.touch_model(s, uid, "u", False)
        challenge = Challenge(user_id=uid, digits="4", expires_at=utcnow() + timedelta(minutes=1))
        s.add(challenge)
        s.flush()
        s.add(VerificationAttempt(user_id=uid, challenge_id=challenge.id, n_frames=2, score=marker, decision="reject"))
        tokens.revoke(s, f"jti-{marker}", uid, utcnow() + timedelta(hours=1))
        calibrations.put_calibration(
            s,
            uid,
            ubm_id="u",
            model_version=1,
            k=5,
            cohort_key="c",
            n_cohort_users=5,
            location=marker,
            impostor_scores=np.full(3, marker),
            set_aside=[],
        )
        s.add(ReplayFingerprint(user_id=uid, digit=4, fingerprint=bytes(768)))
        s.add(VerificationLockout(user_id=uid, failures=1, level=0))
        s.add(LegacyAccount(user_id=uid, legacy_user_id="legacy-1", document={}))
        s.add(
            LegacyTake(
                user_id=uid,
                source="trainLog",
                position=0,
                fingerprint="f",
                config_id="meyda-legacy-native-v0",
                digit=4,
                n_frames=1,
                n_mfcc=13,
                mfcc=bytes(52),
                energy=bytes(4),
            )
        )


def _counts(database: Database, uid: uuid.UUID) -> dict[str, int]:
    with database.read_session() as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t).where(t.c.user_id == uid)) or 0)
            for t in user_tables()
        }


def test_every_non_public_route_needs_a_valid_token(client: TestClient, api: Any) -> None:
    private = _private_routes(client)
    assert {("GET", "/api/v1/me"), ("DELETE", "/api/v1/me"), ("GET", "/api/v1/me/export")} <= set(private)
    assert ("DELETE", "/api/v1/sessions/current") in private
    api.register(email="gone@example.org", alias="gone")
    gone = api.login(email="gone@example.org")
    assert client.delete("/api/v1/me", headers=gone).status_code == 204
    for method, path in private:
        for headers in ({}, {"Authorization": "Bearer x.y.z"}, gone):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
    schema = client.get("/openapi.json").json()["paths"]
    for method, path in private:  # the OpenAPI document tells clients the same
        assert schema[path][method.lower()].get("security"), (method, path)


def test_a_token_of_a_reaches_nothing_of_b(client: TestClient, api: Any, database: Database) -> None:
    a = api.register(email="a@example.org", alias="alice")
    b = api.register(email="b@example.org", alias="bobby")
    a_id, b_id = uuid.UUID(a["id"]), uuid.UUID(b["id"])
    _plant(database, a_id, 1.25)
    _plant(database, b_id, 7.75)
    b_headers = api.login(email="b@example.org")
    b_before = client.get("/api/v1/me", headers=b_headers).json()
    b_counts = _counts(database, b_id)
    assert set(b_counts.values()) == {1}

    with database.read_session() as s:
        b_ids = {
            "utterance": s.scalar(select(Utterance.id).where(Utterance.user_id == b_id)),
            "challenge": s.scalar(select(Challenge.id).where(Challenge.user_id == b_id)),
        }
    b_markers = [str(b_id), "b@example.org", "bobby"]
    for method, route in _private_routes(client):
        a_headers = api.login(email="a@example.org")  # fresh: earlier deletions end sessions
        path, body, expected = _request_for(method, route, b_ids, api.password)
        response = client.request(method, path, headers=a_headers, json=body)
        assert response.status_code in expected, (method, path, response.text)
        for marker in b_markers:
            assert marker not in response.text, (method, path, marker)
        assert not B_NUMBER.search(response.text), (method, path, B_VALUE)
        assert str(b_ids["challenge"]) not in response.text, (method, path)
        # After each of A's calls, B is untouched: same profile, same data, still logged in.
        assert client.get("/api/v1/me", headers=b_headers).json() == b_before, (method, path)
        assert _counts(database, b_id) == b_counts, (method, path)

    assert set(_counts(database, a_id).values()) == {0}  # the sweep ended with A erasing A
    grant_voice(database, b_headers)
    assert client.get("/api/v1/me/export", headers=b_headers).status_code == 200


@pytest.mark.parametrize("route", [("GET", "/api/v1/me"), ("GET", "/api/v1/me/export")])
def test_responses_are_about_the_token_holder(
    client: TestClient, api: Any, database: Database, route: tuple[str, str]
) -> None:
    a = api.register(email="a@example.org", alias="alice")
    b = api.register(email="b@example.org", alias="bobby")
    for who, headers in ((a, api.login(email="a@example.org")), (b, api.login(email="b@example.org"))):
        grant_voice(database, headers)  # the export needs a recent voice verification of the session
        body = client.request(*route, headers=headers).json()
        assert who["id"] in str(body)
        other = b if who is a else a
        assert other["id"] not in str(body) and other["email"] not in str(body)
