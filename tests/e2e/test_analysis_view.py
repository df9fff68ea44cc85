"""The intrusion test and benchmark views show what the API returned for the account: the number of
other voices, their trials and how many would pass, and the same for the user's own held-out takes;
no alias, score, chart or threshold (the API sends none). A heading alone would not catch a view
reading a field the report does not have."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROWS = "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"


def _expected_rows(report: dict[str, Any], others_label: str) -> list[list[str]]:
    return [
        [others_label, str(report["others"]["trials"]), str(report["others"]["would_pass"])],
        ["Your own held-out takes against your model", str(report["own"]["trials"]), str(report["own"]["would_pass"])],
    ]


def _run(page: Any, button: str, path: str, report: str) -> dict[str, Any]:
    """Press `button`, and return the JSON the page received from `path` once the view has drawn it."""
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1{path}") and r.request.method == "GET") as response:
        page.click(button)
    assert response.value.status == 200
    page.wait_for_selector(f"#intrusion-result[data-report='{report}'] table", state="attached")
    return response.value.json()


def test_analysis_views_show_what_the_api_returned(new_tab: Any, e2e: Any, ready_user: Any) -> None:
    me = ready_user("lucas_l", "lucas")
    other = ready_user("george_g", "george")
    tab = new_tab(fake_mic=False)
    tab.log_in(me.email, e2e.password)
    page = tab.page
    page.click("nav a[data-view='intrusion']")
    page.wait_for_selector("#view-intrusion:not([hidden])")

    intrusion = _run(page, "#intrusion-run", "/me/intrusion-test", "intrusion")
    assert set(intrusion) == {"k", "other_voices", "others", "own"} and intrusion["other_voices"] >= 1
    n = intrusion["other_voices"]
    voices = f"{n} other voice{'s' if n != 1 else ''}"
    expected = _expected_rows(intrusion, f"Takes of {voices} against your model")
    assert page.eval_on_selector_all("#intrusion-result tbody tr", ROWS) == expected
    text = page.inner_text("#intrusion-result")
    assert f"{intrusion['k']} digits" in text and other.alias not in text and "threshold" not in text.lower()
    assert page.locator("#intrusion-result svg").count() == 0
    assert not re.search(r"\d\.\d", text)  # no score of any kind

    benchmark = _run(page, "#benchmark-run", "/me/benchmark", "benchmark")
    n = benchmark["other_voices"]
    voices = f"{n} other voice{'s' if n != 1 else ''}"
    expected = _expected_rows(benchmark, f"Your takes against {voices}' models")
    assert page.eval_on_selector_all("#intrusion-result tbody tr", ROWS) == expected
    text = page.inner_text("#intrusion-result")
    assert f"{benchmark['k']} digits" in text and other.alias not in text
    tab.screenshot("benchmark")
    assert tab.unexpected_console_errors() == []
