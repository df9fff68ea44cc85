"""The enrolment and verification flows in real Chromium against the real service (issue 14): a
microphone that says some wrong digits still completes enrolment; skip and pause; takes the server
flags as suspect are shown with the reason and re-recorded; the verification view's reasons in words,
its tiles (never green for a rejected answer) and the number of digits the server asked for.

Speech comes from FSDD through the fake microphone of conftest.py. Where the server on this branch
cannot yet produce an answer (the `suspect` flag of the enrolment check, the `too_noisy` reason of
noise-aware scoring, a locked account), the page is shown the documented response by Playwright's
request routing: the page's handling is what is tested there, not the server's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SPEAKER = "theo"  # enrols through the browser
VERIFIER = "nicolas"  # enrolled over the API, answers in the verify view
TEST_TAKES = range(25, 50)


def _start_mic(tab: Any) -> None:
    tab.page.click("#mic-start")
    tab.page.wait_for_selector("#mic-status[data-state='listening']")


def _register(tab: Any, e2e: Any, alias: str) -> None:
    """Register over the page's form (as test_web_client does), landing on the enrol view."""
    page = tab.page
    tab.goto()
    page.wait_for_selector("#view-login:not([hidden])")
    form = page.locator("#register-form")
    form.locator("input[name=email]").fill(f"{alias}@example.org")
    form.locator("input[name=password]").fill(e2e.password)
    form.locator("input[name=alias]").fill(alias)
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#view-enrol:not([hidden])")


def _prompt(tab: Any) -> tuple[str, int | None, str]:
    """The enrol prompt's state, digit and seq once it is listening or ready."""
    page = tab.page
    page.wait_for_function(
        "() => ['listening', 'ready'].includes(document.querySelector('#enrol-prompt').dataset.state)"
    )
    prompt = page.locator("#enrol-prompt")
    state = prompt.get_attribute("data-state") or ""
    digit = prompt.get_attribute("data-digit")
    return state, (int(digit) if digit else None), prompt.get_attribute("data-seq") or ""


def _wait_seq(tab: Any, selector: str, seq: str, timeout: float = 8000) -> None:
    tab.page.wait_for_function(
        "([sel, seq]) => document.querySelector(sel).dataset.seq !== seq", arg=[selector, seq], timeout=timeout
    )


def _takes_per_digit(tab: Any) -> list[int]:
    return [
        int(t.split("/")[0])
        for t in tab.page.eval_on_selector_all("#digit-grid .tile-count", "e => e.map(x => x.textContent)")
    ]


def _rerecord_suspects(tab: Any, e2e: Any, fsdd: Path, unused: dict[int, list[int]]) -> int:
    """Press Re-record on every flagged take and say its digit (rightly this time); how many."""
    page = tab.page
    done = 0
    while page.locator("#takes-table tr.take-suspect").count():
        row = page.locator("#takes-table tr.take-suspect").first
        digit = int(row.get_attribute("data-digit") or "-1")
        _state, _d, seq = _prompt(tab)
        row.locator("button", has_text="Re-record").click()
        _wait_seq(tab, "#enrol-prompt", seq)
        state, prompted, seq = _prompt(tab)
        done += 1
        if state == "ready":  # the flagged take was left out of the model: its digit had enough takes anyway
            page.wait_for_load_state("networkidle")
            continue
        assert (state, prompted) == ("listening", digit)
        e2e.say(tab, e2e.read_take(fsdd, digit, SPEAKER, unused[digit].pop(0)))
        _wait_seq(tab, "#enrol-prompt", seq)
    return done


def test_wrong_digits_at_the_microphone_still_complete_enrolment(new_tab: Any, e2e: Any, fsdd: Path) -> None:
    """Two wrong digits in the first round (the server cannot check them yet: a server with the
    retroactive check flags them as suspect, and they are re-recorded), then a wrong digit on every
    fourth prompt once each digit has three takes (refused as wrong_digit, shown in words, asked again)."""
    tab = new_tab()
    _register(tab, e2e, "wrong_digits")
    _start_mic(tab)
    page = tab.page
    unused = {d: [*e2e.enrol_takes, *e2e.spare_takes] for d in range(10)}
    prompts, wrong_said = 0, []
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        state, digit, seq = _prompt(tab)
        if state == "ready":
            # The takes list is reloaded in the background after each take: let the last reload land.
            page.wait_for_load_state("networkidle")
            if not _rerecord_suspects(tab, e2e, fsdd, unused):
                break
            continue
        assert digit is not None
        checked = min(_takes_per_digit(tab)) >= 3
        wrong = prompts in (1, 6) or (checked and prompts % 4 == 0)
        spoken = (digit + 5) % 10 if wrong else digit
        if wrong:
            wrong_said.append(digit)
        e2e.say(tab, e2e.read_take(fsdd, spoken, SPEAKER, unused[spoken].pop(0)))
        prompts += 1
        _wait_seq(tab, "#enrol-prompt", seq)
    else:
        raise AssertionError(f"enrolment not ready after {prompts} prompts")
    page.wait_for_function("() => document.querySelectorAll('#take-log li.state-heard').length === 0")
    assert page.inner_text("#enrol-percent") == "100%"
    rejected = page.locator("#take-log li[data-reason='wrong_digit']")
    print(f"{prompts} prompts, {len(wrong_said)} wrong digits said, {rejected.count()} refused as wrong_digit")
    assert rejected.count() >= 1
    assert "did not sound like the digit shown" in rejected.first.inner_text()
    # Every digit refused as wrong was asked again (the scheduler's retry) and then taken: ready.
    assert page.locator("#takes-table tr.take-suspect").count() == 0
    tab.screenshot("enrol-wrong-digits")
    assert tab.unexpected_console_errors(allowed_statuses=(422,)) == []


def test_skip_and_pause(new_tab: Any, e2e: Any, fsdd: Path) -> None:
    tab = new_tab()
    _register(tab, e2e, "skip_pause")
    page = tab.page
    assert page.locator("#enrol-skip").is_hidden() and page.locator("#mic-pause").is_hidden()
    _start_mic(tab)
    _state, first, seq = _prompt(tab)
    page.click("#enrol-skip")
    _wait_seq(tab, "#enrol-prompt", seq)
    _state, second, seq = _prompt(tab)
    assert second != first
    assert "skipped" in page.inner_text(f"#take-log li[data-digit='{first}']")

    page.click("#mic-pause")
    page.wait_for_selector("#enrol-prompt[data-state='paused']")
    assert page.get_attribute("#mic-pause", "aria-pressed") == "true"
    posts_before = sum(r["method"] == "POST" for r in tab.requests)
    e2e.say(tab, e2e.read_take(fsdd, second, SPEAKER, 30))  # spoken while paused: not heard
    page.wait_for_timeout(300)
    assert sum(r["method"] == "POST" for r in tab.requests) == posts_before
    assert page.locator("#take-log li.state-heard, #take-log li.state-sent").count() == 0

    page.click("#mic-pause")
    page.wait_for_selector("#enrol-prompt[data-state='listening']")
    assert int(page.get_attribute("#enrol-prompt", "data-digit") or "-1") == second
    e2e.say(tab, e2e.read_take(fsdd, second, SPEAKER, 31))
    page.wait_for_selector(f"#take-log li.state-sent[data-digit='{second}']")
    # The noise indicator has judged the room (clean FSDD, silent pauses: quiet enough).
    assert page.get_attribute("#noise-status", "data-state") == "quiet"
    assert tab.unexpected_console_errors() == []


def test_suspect_takes_are_shown_and_rerecorded(new_tab: Any, ready_user: Any, e2e: Any, fsdd: Path) -> None:
    """The takes list carries `suspect` per take (the server's enrolment check): the page shows which
    takes and why, and Re-record deletes the take and prompts that digit again."""
    user = ready_user("suspect_y", "yweweler")
    tab = new_tab()
    flagged: list[int] = []

    def flag(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        if not flagged:
            for digit in (2, 7):
                flagged.append(next(u["utterance_id"] for u in body["utterances"] if u["digit"] == digit))
        for u in body["utterances"]:
            if u["utterance_id"] in flagged:
                u["suspect"] = {"code": "wrong_digit", "detail": "It sounds closer to your takes of another digit."}
            else:
                u.pop("suspect", None)  # an older server sends no field at all: treated as no flag
        route.fulfill(response=response, body=json.dumps(body))

    tab.page.route(
        "**/api/v1/enrolment/utterances",
        lambda route: flag(route) if route.request.method == "GET" else route.fallback(),
    )
    tab.log_in(user.email, e2e.password)
    page = tab.page
    page.wait_for_selector("#takes-table tr.take-suspect")
    assert page.locator("#takes-table tr.take-suspect").count() == 2
    # Listed first: the table scrolls, and these are the rows to act on.
    assert page.locator("#takes-table tbody tr").first.get_attribute("class") == "take-suspect"
    note = page.inner_text("#takes-suspect")
    assert "2 takes should be recorded again" in note and "2, 7" in note
    row = page.locator(f"#takes-table tr[data-utterance='{flagged[0]}']")
    assert "Does not sound like 2" in row.inner_text() and "closer to your takes" in row.inner_text()
    assert page.locator("#takes-table tr:not(.take-suspect) td.take-check", has_text="ok").count() >= 1
    tab.screenshot("enrol-suspect")

    _start_mic(tab)
    row.locator("button", has_text="Re-record").click()
    page.wait_for_selector("#enrol-prompt[data-state='listening'][data-digit='2']")
    assert any(
        r["method"] == "DELETE" and r["url"].endswith(f"/enrolment/utterances/{flagged[0]}") for r in tab.requests
    )
    assert page.locator("#takes-table tr.take-suspect").count() == 1
    e2e.say(tab, e2e.read_take(fsdd, 2, "yweweler", 40))
    page.wait_for_selector("#enrol-prompt[data-state='ready']")
    assert page.inner_text("#enrol-percent") == "100%"
    assert tab.unexpected_console_errors(allowed_statuses=(422,)) == []


def _answer(tab: Any, e2e: Any, fsdd: Path, speaker: str, spoken: Any) -> dict[str, Any]:
    """Start a verification and say, for each prompted digit d, the take spoken(d) -> (digit, take)."""
    page = tab.page
    takes = iter(TEST_TAKES)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/challenges") and r.request.method == "POST") as resp:
        page.click("#verify-start")
    digits = resp.value.json()["digits"]
    for i in range(len(digits)):
        page.wait_for_selector(f"#challenge[data-state='listening'] li:nth-child({i + 1})[data-state='current']")
        seq = page.get_attribute("#challenge", "data-seq") or ""
        assert f"of the {len(digits)} asked for" in page.inner_text("#verify-hint")
        e2e.say(tab, e2e.read_take(fsdd, spoken(digits[i]), speaker, next(takes)))
        _wait_seq(tab, "#challenge", seq)
    page.wait_for_selector("#verify-result[data-decision]", timeout=20_000)
    return {
        "digits": digits,
        "reason": page.get_attribute("#verify-result", "data-reason"),
        "text": page.inner_text("#verify-result"),
        "tiles": page.eval_on_selector_all("#challenge li", "els => els.map(e => e.dataset.state)"),
    }


def test_verification_reasons_in_words(new_tab: Any, ready_user: Any, e2e: Any, fsdd: Path) -> None:
    user = ready_user("verify_n", VERIFIER)
    tab = new_tab()
    tab.log_in(user.email, e2e.password)
    page = tab.page
    page.click("nav a[data-view='verify']")
    page.wait_for_selector("#view-verify:not([hidden])")

    # Wrong digits, really said: the server's digits_not_matched, in words, and no green tile.
    wrong = _answer(tab, e2e, fsdd, VERIFIER, lambda d: (d + 5) % 10)
    print("wrong digits:", wrong)
    assert wrong["reason"] == "digits_not_matched", wrong
    assert "digits heard were not the digits asked for" in wrong["text"]
    assert len(wrong["tiles"]) == len(wrong["digits"]) and set(wrong["tiles"]) == {"failed"}
    assert page.locator("#challenge li.cdigit-passed").count() == 0

    # The server's answer for a noisy room (noise-aware scoring): too_noisy with the measured SNR.
    def too_noisy(route: Any) -> None:
        body = {"attempt_id": 1, "decision": "reject", "reason": "too_noisy", "snr_db": 4.4}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/api/v1/verifications", lambda r: too_noisy(r) if r.request.method == "POST" else r.fallback())
    noisy = _answer(tab, e2e, fsdd, VERIFIER, lambda d: d)
    assert noisy["reason"] == "too_noisy" and "too noisy here" in noisy["text"].lower(), noisy
    assert "about 4 dB above the background" in noisy["text"] and set(noisy["tiles"]) == {"failed"}
    page.unroute("**/api/v1/verifications")

    # A locked account: the 429 locked-out problem, in words, with the wait.
    problem = {
        "type": "https://speakerverify.example/problems/locked-out",
        "title": "Too many attempts",
        "status": 429,
        "detail": "Locked.",
        "retry_after": 300,
    }
    page.route(
        "**/api/v1/challenges",
        lambda r: r.fulfill(status=429, content_type="application/problem+json", body=json.dumps(problem)),
    )
    page.click("#verify-start")
    page.wait_for_selector("#verify-result[data-reason='locked']")
    assert "about 5 minutes" in page.inner_text("#verify-result")
    assert page.locator("#challenge li").count() == 0  # the last attempt's tiles are gone
    tab.screenshot("verify-reasons")
    assert tab.unexpected_console_errors(allowed_statuses=(422, 429)) == []
