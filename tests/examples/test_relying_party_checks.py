"""The example relying party's backend check of a signed result (examples/relying_party/app.py), attack
by attack, with a real ES256 key pair and PyJWT: only a token signed by the service's key, for this
client, this issuer, this subject and this sign-in's nonce, unexpired, never seen before and saying
`accept` signs anyone in. The browser flow is tests/e2e/test_relying_party.py."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

APP = Path(__file__).resolve().parents[2] / "examples" / "relying_party" / "app.py"
SERVICE = "http://voice.test"
CLIENT = "client-a"
SUBJECT = "u-0123"
NONCE = "nonce-of-this-sign-in"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relying_party_app", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


rp = _load()
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


class _Jwks:
    """Stands in for PyJWKClient: the service's one public key, whatever the token's kid."""

    def get_signing_key_from_jwt(self, token: str) -> Any:
        return jwt.PyJWK.from_dict(json.loads(jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key())), "ES256")


def _service() -> Any:
    cfg = rp.Config(service=SERVICE, client_id=CLIENT, client_secret="s", issuer=SERVICE)
    service = rp.Service(cfg)
    service.jwks = _Jwks()
    return service


def _token(key: Any = KEY, alg: str = "ES256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": SERVICE,
        "aud": CLIENT,
        "sub": SUBJECT,
        "nonce": NONCE,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "amr": ["vbm"],
        "decision": "accept",
        "reason": "accepted",
    } | overrides
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": "k1"})


def _refused(token: str, why: str, service: Any = None, subject: str = SUBJECT, nonce: str = NONCE) -> None:
    with pytest.raises(rp.ResultRefused, match=why):
        (service or _service()).check(token, subject, nonce)


def test_a_right_token_is_accepted_once() -> None:
    service = _service()
    token = _token()
    assert service.check(token, SUBJECT, NONCE)["decision"] == "accept"
    _refused(token, "replayed", service=service)


def test_a_tampered_token_is_refused() -> None:
    head, payload, signature = _token(decision="reject", reason="voice_not_matched").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["decision"] = "accept"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(f"{head}.{forged}.{signature}", "invalid token")


def test_tokens_not_signed_by_the_service_are_refused() -> None:
    _refused(_token(key=OTHER_KEY), "invalid token")
    _refused(jwt.encode({"sub": SUBJECT}, None, algorithm="none"), "invalid token")
    _refused(_token(key="a-shared-secret-of-32-bytes-or-more!", alg="HS256"), "invalid token")
    _refused("not-a-token", "invalid token")


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "client-b"}, "invalid token"),  # another application's result
        ({"iss": "http://evil.test"}, "invalid token"),
        ({"exp": int(time.time()) - 5}, "invalid token"),
        ({"jti": None}, "invalid token"),
        ({"nonce": None}, "invalid token"),
        ({"nonce": "an-earlier-sign-in"}, "nonce"),
        ({"sub": "u-someone-else"}, "another subject"),
        ({"amr": ["pwd"]}, "amr"),
        ({"decision": "reject", "reason": "voice_not_matched"}, "decision"),
    ],
)
def test_wrong_claims_are_refused(claims: dict[str, Any], why: str) -> None:
    _refused(_token(**claims), why)


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="')[1].split('"')[0]


def test_the_sign_in_flow_needs_the_voice_and_takes_one_result_per_session() -> None:
    from starlette.testclient import TestClient

    service = _service()
    issued: list[tuple[str, str, str]] = []  # (subject, purpose, nonce) of every session asked for

    def session(subject: str, purpose: str, nonce: str) -> dict[str, Any]:
        issued.append((subject, purpose, nonce))
        return {"session_token": f"tok-{purpose}", "subject_state": "ready", "expires_at": "x"}

    service.session = session
    service.subject_state = lambda subject: "ready"
    with TestClient(rp.build_app(service.config, service)) as client:
        body = {"csrf": _csrf(client.get("/register").text), "name": "alice", "password": "correct horse battery"}
        assert client.post("/register", data=body, follow_redirects=False).headers["location"] == "/voice/enrol"
        assert "tok-enrol" in client.get("/voice/enrol").text
        client.post("/voice/enrol", data={"csrf": _csrf(client.get("/").text)})
        client.post("/logout", data={"csrf": _csrf(client.get("/").text)})
        assert 'data-outcome="signed-out"' in client.get("/").text
        login = {"csrf": _csrf(client.get("/login").text), "name": "alice", "password": "correct horse battery"}
        assert client.post("/login", data=login, follow_redirects=False).headers["location"] == "/voice/verify"
        assert 'data-outcome="signed-out"' in client.get("/").text  # the password alone signs nobody in

        page = client.get("/voice/verify").text
        assert "<speakerverify-verify" in page and 'session="tok-verify"' in page
        subject, purpose, nonce = issued[-1]
        assert purpose == "verify" and subject.startswith("u-") and subject != "alice"
        refused = client.post("/voice/verify", data={"csrf": _csrf(page), "result_token": _token(sub=subject)})
        assert refused.status_code == 403 and "nonce" in refused.text
        # The refusal used up that sign-in's nonce: even a right token for it is refused now.
        right = _token(sub=subject, nonce=nonce)
        late = client.post("/voice/verify", data={"csrf": _csrf(page), "result_token": right})
        assert late.status_code == 403 and 'data-outcome="refused"' in late.text

        page = client.get("/voice/verify").text
        subject, _, nonce = issued[-1]
        good = _token(sub=subject, nonce=nonce)
        ok = client.post("/voice/verify", data={"csrf": _csrf(page), "result_token": good}, follow_redirects=False)
        assert ok.status_code == 303
        assert 'data-outcome="signed-in"' in client.get("/").text
        again = client.post("/voice/verify", data={"csrf": _csrf(page), "result_token": good}, follow_redirects=False)
        assert again.headers["location"] == "/login"  # nothing pending any more


def test_forms_need_the_session_csrf_token() -> None:
    from starlette.testclient import TestClient

    with TestClient(rp.build_app(_service().config, _service())) as client:
        client.get("/register")
        forged = client.post("/register", data={"csrf": "guess", "name": "bob", "password": "correct horse battery"})
        assert forged.status_code == 400
        login = client.post("/login", data={"csrf": "guess", "name": "bob", "password": "correct horse battery"})
        assert login.status_code == 401


def test_a_service_that_is_down_gives_a_503_page_not_a_traceback() -> None:
    from starlette.testclient import TestClient

    cfg = rp.Config(service="http://127.0.0.1:9", client_id=CLIENT, client_secret="s", issuer=SERVICE)
    with TestClient(rp.build_app(cfg), raise_server_exceptions=False) as client:
        body = {"csrf": _csrf(client.get("/register").text), "name": "carol", "password": "correct horse battery"}
        response = client.post("/register", data=body)  # follows to /voice/enrol, which needs the service
        assert response.status_code == 503
        assert 'data-outcome="unavailable"' in response.text
