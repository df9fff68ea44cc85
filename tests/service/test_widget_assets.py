"""The relying parties' widget and the public files it builds on: served to any origin (module scripts,
worklets and Meyda are fetched in CORS mode by a page on the application's origin), while the API and
the pages stay closed to other origins."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from speakerverify.config import Settings
from speakerverify.http.app import create_app
from speakerverify.http.routes.web import STATIC_DIR
from support import pgserver

ORIGIN = {"Origin": "https://shop.example"}
WIDGET = STATIC_DIR / "js" / "widget" / "speakerverify.js"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # Static files touch no database: SQLite only.
    db = pgserver.fresh_database_url("sqlite", tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=db, secret_key="k" * 48)
    with TestClient(create_app(settings)) as c:
        yield c


def _public(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert headers["access-control-allow-origin"] == "*"
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert "access-control-allow-credentials" not in headers


def test_the_widget_is_served_to_any_origin_as_a_module(client: TestClient) -> None:
    response = client.get("/widget/speakerverify.js", headers=ORIGIN)
    _public(response)
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.text == WIDGET.read_text()
    assert 'customElements.define("speakerverify-verify"' in response.text


def test_every_module_the_widget_imports_is_public_too(client: TestClient) -> None:
    """Its imports, theirs in turn, the worklet and Meyda: one refused file and the widget does not load."""
    seen: set[str] = set()
    todo = ["/static/js/widget/speakerverify.js"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, headers=ORIGIN)
        _public(response)
        base = url.rsplit("/", 1)[0]
        for target in re.findall(r'from "([^"]+)"|new URL\("([^"]+)", import\.meta\.url\)', response.text):
            path = next(t for t in target if t)
            todo.append(path if path.startswith("/") else posixpath.normpath(f"{base}/{path}"))
    assert {"/static/js/framer-worklet.js", "/static/js/microphone.js", "/static/js/api.js"} <= seen
    meyda = client.get("/static/vendor/meyda.min.js", headers=ORIGIN)
    if meyda.status_code == 200:  # installed by npm ci (scripts/test.sh); its absence is test_hardening's
        _public(meyda)


def test_the_page_and_the_api_are_not_opened_by_it(client: TestClient) -> None:
    # feature-config is opened to registered applications' origins only (http/rp_cors.py, test_rp.py).
    for path in ("/", "/api/v1/feature-config", "/api/v1/me", "/healthz"):
        response = client.get(path, headers=ORIGIN)
        assert "access-control-allow-origin" not in response.headers, path
        assert response.headers["cross-origin-resource-policy"] == "same-origin", path
    assert (
        client.options("/api/v1/sessions", headers={**ORIGIN, "Access-Control-Request-Method": "POST"}).headers.get(
            "access-control-allow-origin"
        )
        is None
    )
