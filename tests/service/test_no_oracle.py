"""No score oracle (issue 13): claimants learn decisions, reason codes and counts, never a number about a
decision; the export of raw features needs a recent voice accept in the same session; challenges and
analyses are rate limited per user.

Checked twice: on the OpenAPI document (every response schema of every route) and on the real bodies of
a scripted session (register, enrol two FSDD speakers, challenge, genuine, impostor, wrong-digit and
replayed answers, attempt list, both analyses, stored summary, export refused and allowed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from speakerverify.config import Settings, UserLimits
from speakerverify.http.app import create_app
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Challenge, VerificationAttempt, utcnow
from support.audit import audited, token_jti
from support.fsdd import enrol_speaker, segments_for

# A field whose name contains one of these says something numeric about a decision.
FORBIDDEN = ("score", "threshold", "margin", "llr", "far", "calibration")
# Documented floats that say nothing about any decision: the feature extractor's input scale.
FLOAT_FIELDS_ALLOWED = {"input_scale"}


def _forbidden_names(node: Any, path: str = "$") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if any(word in str(key).lower() for word in FORBIDDEN):
                yield f"{path}.{key}"
            yield from _forbidden_names(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _forbidden_names(value, f"{path}[{i}]")


def _floats(node: Any, path: str = "$") -> Iterator[str]:
    if isinstance(node, float):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in FLOAT_FIELDS_ALLOWED:
                yield from _floats(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _floats(value, f"{path}[{i}]")


def _resolve(schema: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """``node`` with every ``$ref`` into components replaced by its target (recursion cut at a cycle)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                return {}
            return _resolve(schema, schema["components"]["schemas"][name], seen | {name})
        return {k: _resolve(schema, v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(schema, v, seen) for v in node]
    return node


def _property_names(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        yield from (node.get("properties") or {}).items()
        for value in node.values():
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def _number_properties(node: Any) -> Iterator[str]:
    for name, sub in _property_names(node):
        types = [sub.get("type")] + [alt.get("type") for alt in sub.get("anyOf", []) if isinstance(alt, dict)]
        if "number" in types and name not in FLOAT_FIELDS_ALLOWED:
            yield name


def test_no_response_schema_names_a_score_or_carries_a_float(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    checked, bad_names, bad_numbers = 0, [], []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                for media in (response.get("content") or {}).values():
                    body = _resolve(schema, media.get("schema", {}))
                    checked += 1
                    where = f"{method.upper()} {path} {code}"
                    bad_names += [f"{where}: {n}" for n, _ in _property_names(body) if any(w in n for w in FORBIDDEN)]
                    bad_numbers += [f"{where}: {n}" for n in _number_properties(body)]
    assert checked > 20  # the walk really saw the routes' responses
    assert bad_names == [] and bad_numbers == []


def test_the_walkers_see_what_they_look_for() -> None:
    """The checks above and below can fail: fed the old answer shape, they name its fields."""
    old = {"decision": "reject", "score": 0.4, "per_digit": [{"digit": 1, "content_margin": -0.2}]}
    assert list(_forbidden_names(old)) == ["$.score", "$.per_digit[0].content_margin"]
    assert list(_floats(old)) == ["$.score", "$.per_digit[0].content_margin"]
    schema = {"properties": {"mean_score": {"anyOf": [{"type": "number"}, {"type": "null"}]}}}
    assert list(_number_properties(schema)) == ["mean_score"]


class Recorder:
    """A client that keeps every JSON body a claimant receives, to be walked afterwards."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.bodies: list[tuple[str, Any]] = []

    def call(self, method: str, path: str, keep: bool = True, **kwargs: Any) -> Response:
        response = self.client.request(method, f"/api/v1{path}", **kwargs)
        if keep and response.content and "json" in response.headers.get("content-type", ""):
            self.bodies.append((f"{method} {path} {response.status_code}", response.json()))
        return response


LIMITS = UserLimits(challenges_per_hour=4, analysis_per_hour=2, export_verification_seconds=600, purge_every=1)


def _answer(rec: Recorder, auth: dict[str, str], segments: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new challenge answered by ``segments(digits)``: (challenge, verification answer)."""
    ch = rec.call("POST", "/challenges", headers=auth)
    assert ch.status_code == 201, ch.text
    body = {"challenge_id": ch.json()["challenge_id"], "segments": segments(ch.json()["digits"])}
    out = rec.call("POST", "/verifications", headers=auth, json=body)
    assert out.status_code == 200, out.text
    return ch.json(), out.json()


def _refused(response: Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"urn:speakerverify:problem:{slug}"
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1


def _account(rec: Recorder, body: dict[str, Any]) -> dict[str, str]:
    """Register and log in; the Authorization header of the new session."""
    assert rec.call("POST", "/users", json=body).status_code == 201
    login = rec.call("POST", "/sessions", json={"email": body["email"], "password": body["password"]})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_a_scripted_session_learns_no_number_and_export_needs_a_recent_accept(
    settings: Settings, database: Database
) -> None:
    with TestClient(create_app(settings.with_(user_limits=LIMITS))) as client:
        rec = Recorder(client)
        body = {"email": "ada@example.org", "password": "correct horse battery", "alias": "ada", "consent": True}
        auth = _account(rec, body)
        enrol_speaker(client, auth, "jackson")
        enrol_speaker(client, _account(rec, {**body, "email": "nic@example.org", "alias": "nic"}), "nicolas")
        uid = uuid.UUID(rec.call("GET", "/me", headers=auth).json()["id"])
        rec.call("GET", "/enrolment/utterances", headers=auth)

        # Before any voice verification: the export is refused, the stored summary is not.
        _refused(rec.call("GET", "/me/export", headers=auth), 403, "voice-verification-required")
        stored = {t["table"]: t for t in rec.call("GET", "/me/stored", headers=auth).json()["tables"]}
        assert stored["utterances"]["rows"] == 60 and stored["verification_attempts"]["rows"] == 0

        # An expired, unanswered challenge is purged when the next one is created (purge_every=1 here).
        stale = uuid.uuid4()
        with database.write_session() as s:
            s.add(Challenge(id=stale, user_id=uid, digits="12345", expires_at=utcnow() - timedelta(minutes=5)))

        _, genuine = _answer(rec, auth, lambda d: segments_for("jackson", d, 30))
        with database.read_session() as s:
            assert s.get(Challenge, stale) is None
        assert genuine == {"attempt_id": genuine["attempt_id"], "decision": "accept", "reason": "accepted"}
        _, impostor = _answer(rec, auth, lambda d: segments_for("nicolas", d, 30))
        # Another speaker's digits often fail the content check too: it is judged by the claimant's own models.
        assert impostor["decision"] == "reject" and impostor["reason"] in ("voice_not_matched", "digits_not_matched")
        _, wrong = _answer(rec, auth, lambda d: segments_for("jackson", d, 31, [(x + 3) % 10 for x in d]))
        assert (wrong["decision"], wrong["reason"]) == ("reject", "digits_not_matched")
        _, replayed = _answer(rec, auth, lambda d: segments_for("jackson", d, 2))  # the user's own enrolment takes
        assert (replayed["decision"], replayed["reason"]) == ("reject", "replay_suspected")
        # The numbers are in the audit log, for the operator, with the session they were answered in.
        row = audited(database, genuine["attempt_id"])
        assert row.score is not None and row.threshold is not None and row.token_jti == token_jti(auth)

        attempts = rec.call("GET", "/verifications", headers=auth).json()["attempts"]
        assert [a["reason"] for a in attempts] == [r["reason"] for r in (replayed, wrong, impostor, genuine)]
        assert all(set(a) == {"attempt_id", "created_at", "decision", "reason"} for a in attempts)

        # Challenges: 4 an hour here; 10 more tried, 10 refused with Retry-After.
        for _ in range(10):
            _refused(rec.call("POST", "/challenges", headers=auth), 429, "rate-limited")

        intrusion = rec.call("GET", "/me/intrusion-test", headers=auth).json()
        assert intrusion["other_voices"] == 1 and intrusion["others"]["trials"] > 0
        bench = rec.call("GET", "/me/benchmark", headers=auth).json()
        assert bench["other_voices"] == 1 and "nic" not in str(bench) and "nic" not in str(intrusion)
        # Analyses share 2 an hour here; 6 more tried (both kinds), 6 refused.
        for path in ["/me/intrusion-test", "/me/benchmark"] * 3:
            _refused(rec.call("GET", path, headers=auth), 429, "rate-limited")

        _export_gate(rec, client, database, auth, body)

    leaks = [f"{where}: {name}" for where, b in rec.bodies for name in _forbidden_names(b)]
    floats = [f"{where}: {name}" for where, b in rec.bodies for name in _floats(b)]
    assert len(rec.bodies) > 30 and leaks == [] and floats == []


def _export_gate(
    rec: Recorder, client: TestClient, database: Database, auth: dict[str, str], body: dict[str, Any]
) -> None:
    """The session that was accepted may export; another session of the same account may not, nor may the
    accepted one once the accept is older than the window. 3 refusals tried, 3 refused."""
    ok = rec.call("GET", "/me/export", headers=auth, keep=False)  # the right of access: features and scores
    assert ok.status_code == 200 and ok.json()["records"]["utterances"][0]["mfcc"]
    login = client.post("/api/v1/sessions", json={"email": body["email"], "password": body["password"]})
    second = {"Authorization": f"Bearer {login.json()['access_token']}"}
    _refused(rec.call("GET", "/me/export", headers=second), 403, "voice-verification-required")
    with database.write_session() as s:  # the accept, 11 minutes ago
        s.execute(
            update(VerificationAttempt)
            .where(VerificationAttempt.token_jti == token_jti(auth))
            .values(created_at=utcnow() - timedelta(minutes=11))
        )
    _refused(rec.call("GET", "/me/export", headers=auth), 403, "voice-verification-required")
    client.delete("/api/v1/sessions/current", headers=auth)
    assert rec.call("GET", "/me/export", headers=auth).status_code == 401  # a logged-out session exports nothing


def test_the_data_statement_says_what_export_holds_and_when(client: TestClient, settings: Settings) -> None:
    sections = {s["id"]: s["text"] for s in client.get("/api/v1/data-statement").json()["sections"]}
    rights = sections["your-rights"]
    assert "GET /api/v1/me/stored" in rights and "voice features as numbers" in rights
    assert "voice verification within the last 10 minutes" in rights
    assert "the scores are for the operator" in sections["what"]
    with TestClient(create_app(settings.with_(user_limits=UserLimits(export_verification_seconds=90)))) as other:
        text = other.get("/api/v1/data-statement").json()["sections"]
        assert "within the last 90 seconds" in " ".join(s["text"] for s in text)


@pytest.mark.parametrize(
    ("decision", "detail", "expected"),
    [
        ("accept", {"replay": [False]}, "accepted"),
        ("reject", {"per_digit": [{"score": None}, {"score": 1.0}], "replay": [True, True]}, "too_short"),
        ("reject", {"per_digit": [{"score": 1.0}], "replay": [True], "digits_match": False}, "replay_suspected"),
        ("reject", {"per_digit": [{"score": 1.0}], "replay": [False], "digits_match": False}, "digits_not_matched"),
        ("reject", {"per_digit": [{"score": 1.0}], "replay": [False], "digits_match": True}, "voice_not_matched"),
        ("reject", {"reason": "replay_suspected", "replay": [False]}, "replay_suspected"),  # recorded wins
        ("reject", None, "voice_not_matched"),
    ],
)
def test_attempts_recorded_before_reasons_get_one_by_the_same_precedence(
    decision: str, detail: dict[str, Any] | None, expected: str
) -> None:
    from speakerverify.app.verification import stored_reason

    assert stored_reason(decision, detail) == expected
