"""The web client without speech: serving and CSP, the microphone error messages, phone width,
keyboard use, escaping, and the segmenter on synthetic energy tracks (run in the page's own module)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from speakerverify.http.routes import web

pytestmark = pytest.mark.e2e

BLOCKED_MIC = """
navigator.mediaDevices.getUserMedia = async () => {
  throw new DOMException("Permission denied", "NotAllowedError");
};
"""
INSECURE = """
Object.defineProperty(window, "isSecureContext", { value: false });
"""


def test_pages_are_served_from_this_origin_only(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    meyda = httpx.get(f"{server}/static/vendor/meyda.min.js")
    assert meyda.status_code == 200 and meyda.headers["content-type"].startswith("text/javascript")
    assert "Meyda" in meyda.text
    worklet = httpx.get(f"{server}/static/js/framer-worklet.js")
    assert worklet.status_code == 200 and "registerProcessor" in worklet.text
    for bad in ("/static/../routes/web.py", "/static/js/%2e%2e/%2e%2e/index.html", "/static/vendor/package.json"):
        assert httpx.get(f"{server}{bad}").status_code == 404, bad
    assert httpx.get(f"{server}/api/v1/nothing").headers["content-type"] == "application/problem+json"
    # No CDN and no other host: nothing in the client refers to anything but this origin.
    for path in [web.WEB_DIR / "index.html", *web.STATIC_DIR.rglob("*")]:
        if path.is_file() and path.suffix in (".html", ".js", ".css"):
            text = path.read_text()
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg|localhost)\w", text), path
            assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), path


def test_login_page_keyboard_and_phone_width(new_tab: Any, e2e: Any) -> None:
    tab = new_tab(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = tab.page
    tab.goto()
    page.wait_for_selector("#view-login:not([hidden])")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    tab.screenshot("login-phone")
    # Register with the keyboard only: Tab through the form, Space ticks the box, Enter submits.
    page.focus("#register-form input[name=email]")
    page.keyboard.type("kb@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type(e2e.password)
    page.keyboard.press("Tab")
    page.keyboard.type("keyboard.user")
    page.focus("#register-form input[name=consent]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # to the Register button
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-enrol:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "h-enrol"  # focus moved to the new view's heading
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    tab.screenshot("enrol-phone")
    assert tab.unexpected_console_errors() == []


def test_registration_errors_are_shown_next_to_fields(new_tab: Any, e2e: Any) -> None:
    tab = new_tab()
    page = tab.page
    tab.goto()
    form = page.locator("#register-form")
    form.locator("input[name=email]").fill("x@example.org")
    form.locator("input[name=password]").fill(e2e.password)
    form.locator("input[name=alias]").fill("<img src=x onerror=alert(1)>")
    form.locator("button[type=submit]").click()
    consent_error = form.locator(".field-error[data-for=consent]")
    consent_error.wait_for()
    assert "tick the box" in consent_error.inner_text()
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()
    alias_error = form.locator(".field-error[data-for=alias]")
    alias_error.wait_for()
    assert "letters, digits" in alias_error.inner_text()
    assert page.locator("img").count() == 0  # nothing the user typed became markup
    assert tab.unexpected_console_errors(allowed_statuses=(422,)) == []


def _open_enrol(tab: Any, email: str, alias: str, password: str) -> None:
    httpx.post(
        f"{tab.base}/api/v1/users", json={"email": email, "password": password, "alias": alias, "consent": True}
    ).raise_for_status()
    tab.goto()
    tab.page.fill("#login-form input[name=email]", email)
    tab.page.fill("#login-form input[name=password]", password)
    tab.page.click("#login-form button[type=submit]")
    tab.page.wait_for_selector("#view-enrol:not([hidden])")


def test_blocked_microphone_is_explained(new_tab: Any, e2e: Any) -> None:
    tab = new_tab(fake_mic=False, init_script=BLOCKED_MIC)
    _open_enrol(tab, "blocked@example.org", "blocked_mic", e2e.password)
    tab.page.click("#mic-start")
    tab.page.wait_for_selector("#banner-mic")
    message = tab.page.inner_text("#banner-mic")
    assert "microphone is blocked" in message and "site settings" in message
    assert tab.page.get_attribute("#mic-status", "data-state") == "error"
    tab.screenshot("mic-blocked")
    assert tab.unexpected_console_errors() == []


def test_insecure_context_is_explained(new_tab: Any) -> None:
    tab = new_tab(fake_mic=False, init_script=INSECURE)
    tab.goto()
    message = tab.page.inner_text("#banner-secure")
    assert "not in a secure context" in message and "https://" in message
    assert tab.page.is_disabled("#mic-start")
    tab.screenshot("insecure-context")
    assert tab.unexpected_console_errors() == []


SEGMENTER_CASES = """
async () => {
  const { Segmenter } = await import("/static/js/segmenter.js");
  const e = (db) => ({ energy: Math.pow(10, db / 10), mfcc: [] });
  function run(track, options) {
    const s = new Segmenter(options);
    const events = [];
    track.forEach((db) => {
      const r = s.push(e(db));
      if (r) events.push({ type: r.type, reason: r.reason, n: r.frames ? r.frames.length : r.nFrames });
    });
    return { events, floor: s.floorDb };
  }
  const rep = (db, n) => Array(n).fill(db);
  const room = 45;  // a noisy room: every threshold sits above it
  return {
    digit: run([...rep(room, 30), ...rep(85, 40), ...rep(room, 40)]),
    closure: run([...rep(room, 30), ...rep(85, 25), ...rep(room, 12), ...rep(75, 10), ...rep(room, 40)]),
    click: run([...rep(room, 30), ...rep(90, 3), ...rep(room, 40)]),
    noise: run([...rep(room, 30), ...rep(80, 400), ...rep(room, 40)]),
    quietRoom: run([...rep(-30, 30), ...rep(70, 30), ...rep(60, 10), ...rep(-30, 40)]),
  };
}
"""


def test_segmenter_on_synthetic_tracks(new_tab: Any) -> None:
    tab = new_tab(fake_mic=False)
    tab.goto()
    r = tab.page.evaluate(SEGMENTER_CASES)
    # One digit: one segment, trailing silence trimmed to 3 frames after the last loud one, 5 frames of pre-roll.
    assert [ev["type"] for ev in r["digit"]["events"]] == ["onset", "segment"]
    assert r["digit"]["events"][1]["n"] == 5 + 40 + 3
    assert abs(r["digit"]["floor"] - 45) < 1  # the adaptive floor found the room
    # A 120 ms stop closure inside a word does not split it.
    assert [ev["type"] for ev in r["closure"]["events"]] == ["onset", "segment"]
    # A click is ignored.
    clicks = [(ev["type"], ev.get("reason")) for ev in r["click"]["events"]]
    assert clicks == [("onset", None), ("ignored", "too_short")]
    # A sustained noise is dropped as too long and the floor climbs to it, so it does not trigger again.
    kinds = [(ev["type"], ev.get("reason")) for ev in r["noise"]["events"]]
    assert kinds == [("onset", None), ("ignored", "too_long")]
    # Digital silence: the floor stays at its minimum and quiet speech still counts.
    assert [ev["type"] for ev in r["quietRoom"]["events"]] == ["onset", "segment"]
    assert tab.unexpected_console_errors() == []
