"""The intrusion test and benchmark views show what the API returned for the account: every
row's speaker, trial count, accepted count and mean score, the chart's bars and the threshold.
A heading alone would not catch a view reading a field the report does not have."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROWS = "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"


def _num(x: float | None) -> str:
    """What dom.js's fmtNum shows (toFixed(2) and Python's format round the same binary value alike)."""
    return "–" if x is None else f"{x:.2f}"


def _expected_rows(reference: dict[str, Any], others: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["you (reference)", str(reference["trials"]), str(reference["accepts"]), _num(reference["mean_score"])]]
    rows += [[o["alias"], str(o["trials"]), str(o["false_accepts"]), _num(o["mean_score"])] for o in others]
    return rows


def _run(page: Any, button: str, path: str, report: str) -> dict[str, Any]:
    """Press `button`, and return the JSON the page received from `path` once the view has drawn it."""
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1{path}") and r.request.method == "GET") as response:
        page.click(button)
    assert response.value.status == 200
    page.wait_for_selector(f"#intrusion-result[data-report='{report}'] svg.chart", state="attached")
    return response.value.json()


def _chart_values(page: Any) -> list[str]:
    values = "#intrusion-result svg.chart text.chart-value"
    return page.eval_on_selector_all(values, "els => els.map(e => e.textContent)")


def test_analysis_views_show_what_the_api_returned(new_tab: Any, e2e: Any, ready_user: Any) -> None:
    me = ready_user("lucas_l", "lucas")
    other = ready_user("george_g", "george")
    tab = new_tab(fake_mic=False)
    tab.log_in(me.email, e2e.password)
    page = tab.page
    page.click("nav a[data-view='intrusion']")
    page.wait_for_selector("#view-intrusion:not([hidden])")

    intrusion = _run(page, "#intrusion-run", "/me/intrusion-test", "intrusion")
    expected = _expected_rows(intrusion["reference"], intrusion["impostors"])
    assert other.alias in [row[0] for row in expected[1:]]  # the other ready user is an impostor here
    assert page.eval_on_selector_all("#intrusion-result tbody tr", ROWS) == expected
    means = [row[3] for row in expected if row[3] != "–"]
    assert _chart_values(page) == means  # one bar per speaker with trials, in the table's order
    assert page.locator("#intrusion-result svg.chart rect.bar-reference").count() == 1
    threshold_label = page.text_content("#intrusion-result svg.chart .chart-threshold-label")
    assert threshold_label == f"threshold {intrusion['threshold']:.2f}"
    hint = page.inner_text("#intrusion-result p.hint")
    assert f"Threshold {intrusion['threshold']:.2f}" in hint and f"{intrusion['k']} digits" in hint

    benchmark = _run(page, "#benchmark-run", "/me/benchmark", "benchmark")
    assert "threshold" not in benchmark  # each other model has its own; the view must not invent one
    expected = _expected_rows(benchmark["reference"], benchmark["others"])
    assert other.alias in [row[0] for row in expected[1:]]
    assert page.eval_on_selector_all("#intrusion-result tbody tr", ROWS) == expected
    assert _chart_values(page) == [row[3] for row in expected if row[3] != "–"]
    assert page.locator("#intrusion-result svg.chart .chart-threshold").count() == 0
    assert f"{benchmark['k']} digits" in page.inner_text("#intrusion-result p.hint")
    tab.screenshot("benchmark")
    assert tab.unexpected_console_errors() == []
