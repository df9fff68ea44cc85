"""The example relying party (examples/relying_party) on its own origin, with the service's widget, in
real Chromium against the real service: register and enrol the voice through <speakerverify-enrol>,
sign in with password + <speakerverify-verify> (the speaker: accepted; another FSDD speaker who knows
the password: refused), and a tampered or a replayed result_token refused by the example's backend.

The example is started with the one command its README gives (`app.py --service URL --create-app`),
so `speakerverify apps create` registers it. The fake microphone plays 8 kHz here (the service's rate):
the resampler's path is covered by test_web_client.py, and this halves the time the takes need to travel
into the page. Enrolment uses the product's takes_per_digit (the e2e server changes no setting).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from speakerverify.config import VoicePolicy
from support.server import serve, start_listening

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RP_APP = REPO / "examples" / "relying_party" / "app.py"
SPEAKER = "jackson"
IMPOSTOR = "nicolas"
NAME = "alice"
RATE = 8000
ISSUER = "https://voice.example"  # what a deployment behind a proxy would set; not the test's own URL


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The service, and the example relying party registered with it on another port."""
    tmp = tmp_path_factory.mktemp("rp-e2e")
    # The issuer is the service's public URL; the example reads the same variable (its --issuer default).
    env = {"SPEAKERVERIFY_DATA_DIR": str(tmp / "data"), "SPEAKERVERIFY_PUBLIC_URL": ISSUER}
    with serve(tmp, [], env) as service:
        rp_env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEAKERVERIFY_", "RP_"))} | env

        def command(port: int) -> list[str]:
            return [sys.executable, str(RP_APP), "--service", service, "--create-app", "--port", str(port)]

        with start_listening(command, tmp, rp_env, "/") as (rp, _proc, _log):
            yield {"service": service, "rp": rp}


@pytest.fixture(scope="module")
def tab(browser: Any, sites: dict[str, str], e2e: Any) -> Iterator[Any]:
    """One tab on the example's origin with the fake microphone; records what the page posts to the example."""
    context = browser.new_context()
    context.add_init_script(e2e.fake_mic % {"rate": RATE})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.posts = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.posts.append(r) if r.method == "POST" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    yield page
    context.close()


class Speaker:
    """Answers whatever a widget prompts with the next unused FSDD take of that digit."""

    def __init__(self, e2e: Any, fsdd: Path, speaker: str, takes: range) -> None:
        self.e2e, self.fsdd, self.speaker = e2e, fsdd, speaker
        self.unused = {d: list(takes) for d in range(10)}

    def answer(self, page: Any, element: str, limit: int) -> int:
        """Speak until the element stops listening (done, error) or `limit` takes; returns how many."""
        for n in range(limit):
            try:
                if not self._one(page, element):
                    return n  # done or failed: the page has posted the outcome and moved on
            except PlaywrightError:  # the widget finished (and the page moved on) between two steps
                if page.locator(element).count():
                    raise
                return n
        return limit

    def _one(self, page: Any, element: str) -> bool:
        """Wait for the element to listen and say its digit; False once it no longer listens."""
        page.wait_for_function(
            "el => { const w = document.querySelector(el); return !w"
            " || !['loading', 'starting', 'calibrating', 'hearing', 'sending'].includes(w.dataset.state); }",
            arg=element,
            timeout=30_000,
        )
        widget = page.locator(element)
        if not widget.count() or widget.get_attribute("data-state", timeout=2_000) != "listening":
            return False
        seq = widget.get_attribute("data-seq", timeout=2_000)
        digit = int(widget.get_attribute("data-digit", timeout=2_000))
        samples = self.e2e.read_take(self.fsdd, digit, self.speaker, self.unused[digit].pop(0))
        page.evaluate("s => window.__feed(s)", self.e2e.to_mic(samples, 0.1, 0.4, RATE))
        page.wait_for_function(
            "([el, seq]) => { const w = document.querySelector(el);"
            " return !w || w.dataset.seq !== seq || w.dataset.state !== 'listening'; }",
            arg=[element, seq],
        )
        return True


def _outcome(page: Any) -> str:
    page.wait_for_selector("main[data-outcome]:not([data-outcome='voice'])", timeout=60_000)
    return str(page.get_attribute("main", "data-outcome"))


def _fill(page: Any, form: str, password: str) -> None:
    page.fill(f"{form} input[name=name]", NAME)
    page.fill(f"{form} input[name=password]", password)
    page.click(f"{form} button[type=submit]")


def _ready(page: Any, element: str) -> None:
    """Wait for the widget to load (its config and Meyda, from the service's origin) and offer its button."""
    try:
        page.wait_for_selector(f"{element}[data-state='idle'], {element}[data-state='error']", state="attached")
    except Exception as exc:
        raise AssertionError((page.content()[:1500], page.errors)) from exc
    status = page.locator(f"{element} .status").inner_text()
    assert page.get_attribute(element, "data-state") == "idle", (status, page.errors)


def _sign_in_to_voice(page: Any, rp: str, password: str) -> None:
    """Sign out if needed, pass the password, and land on the voice check with its widget ready."""
    page.goto(rp)
    if page.locator("#logout-form").count():
        page.click("#logout-form button")
    page.goto(f"{rp}/login")
    _fill(page, "#login-form", password)
    page.wait_for_url(f"{rp}/voice/verify")
    _ready(page, "speakerverify-verify")


def _verify(page: Any, speaker: Speaker) -> tuple[str, str]:
    """Press Start, answer the challenge; the example's outcome and the result_token the page posted."""
    page.click("speakerverify-verify button")
    speaker.answer(page, "speakerverify-verify", 8)
    outcome = _outcome(page)
    post = next(r for r in reversed(page.posts) if r.url.endswith("/voice/verify"))
    token = urllib.parse.parse_qs(post.post_data)["result_token"][0]
    return outcome, token


def _submit_token(page: Any, token: str) -> tuple[str, str]:
    """Post `token` through the voice page's own form (with its CSRF token), as a page script could."""
    page.evaluate(
        "t => { const f = document.getElementById('voice-result'); f.elements.result_token.value = t; f.submit(); }",
        token,
    )
    outcome = _outcome(page)
    return outcome, str(page.get_attribute("#why", "data-why") or "")


@pytest.fixture(scope="module")
def enrolled(tab: Any, sites: dict[str, str], e2e: Any, fsdd: Path) -> dict[str, Any]:
    page, rp = tab, sites["rp"]
    page.goto(f"{rp}/register")
    _fill(page, "#register-form", e2e.password)
    page.wait_for_url(f"{rp}/voice/enrol")
    _ready(page, "speakerverify-enrol")
    page.click("speakerverify-enrol button")
    speaker = Speaker(e2e, fsdd, SPEAKER, range(25))
    takes = speaker.answer(page, "speakerverify-enrol", 200)
    outcome = _outcome(page)
    post = next(r for r in reversed(page.posts) if r.url.endswith("/voice/enrol"))
    error = urllib.parse.parse_qs(post.post_data).get("error", [""])[0]  # what the widget reported, if it failed
    return {"takes": takes, "outcome": outcome, "who": page.inner_text("#who"), "error": error}


@pytest.fixture(scope="module")
def genuine(enrolled: dict[str, Any], tab: Any, sites: dict[str, str], e2e: Any, fsdd: Path) -> dict[str, str]:
    _sign_in_to_voice(tab, sites["rp"], e2e.password)
    outcome, token = _verify(tab, Speaker(e2e, fsdd, SPEAKER, range(25, 50)))
    return {"outcome": outcome, "token": token}


@pytest.fixture(scope="module")
def impostor(genuine: dict[str, str], tab: Any, sites: dict[str, str], e2e: Any, fsdd: Path) -> dict[str, str]:
    _sign_in_to_voice(tab, sites["rp"], e2e.password)  # someone who knows the password, not the voice
    outcome, token = _verify(tab, Speaker(e2e, fsdd, IMPOSTOR, range(25, 50)))
    return {"outcome": outcome, "token": token, "why": str(tab.get_attribute("#why", "data-why"))}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_enrolment_through_the_widget(enrolled: dict[str, Any], tab: Any) -> None:
    assert enrolled["error"] == "", enrolled["error"]
    assert enrolled["outcome"] == "signed-in"
    assert "Voice factor: enrolled" in enrolled["who"]  # the example asked the service, not the browser
    assert enrolled["takes"] >= 10 * VoicePolicy.takes_per_digit  # as many takes as the service asks for
    assert tab.errors == []


def test_the_speaker_is_signed_in(genuine: dict[str, str]) -> None:
    assert genuine["outcome"] == "signed-in"
    claims = _claims(genuine["token"])
    assert claims["decision"] == "accept"
    assert claims["amr"] == ["vbm"]
    assert claims["iss"] == ISSUER
    assert "score" not in json.dumps(claims)


def test_an_impostor_with_the_password_is_refused(impostor: dict[str, str]) -> None:
    assert impostor["outcome"] == "refused"
    assert _claims(impostor["token"])["decision"] == "reject"
    assert "decision" in impostor["why"]


def test_a_tampered_result_is_refused(impostor: dict[str, str], tab: Any, sites: dict[str, str], e2e: Any) -> None:
    head, _, signature = impostor["token"].split(".")
    claims = _claims(impostor["token"]) | {"decision": "accept", "reason": "accepted"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _sign_in_to_voice(tab, sites["rp"], e2e.password)
    outcome, why = _submit_token(tab, f"{head}.{forged}.{signature}")
    assert outcome == "refused"
    assert "invalid token" in why


def test_a_replayed_result_is_refused(
    genuine: dict[str, str], impostor: dict[str, str], tab: Any, sites: dict[str, str], e2e: Any
) -> None:
    _sign_in_to_voice(tab, sites["rp"], e2e.password)
    outcome, why = _submit_token(tab, genuine["token"])  # the speaker's earlier accept, signature intact
    assert outcome == "refused"
    assert "replayed" in why
