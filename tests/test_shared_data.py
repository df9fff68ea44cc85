"""Missing shared corpora: a skip with the path in development, a failure under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import shared_data


@pytest.mark.parametrize("ci", ["", "false", "1"])
def test_missing_fsdd_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str) -> None:
    monkeypatch.setattr(shared_data, "FSDD", tmp_path / "fsdd")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"FSDD not found at .*fsdd: place the shared data folder"):
        shared_data.require_fsdd()


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_missing_fsdd_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str) -> None:
    monkeypatch.setattr(shared_data, "FSDD", tmp_path / "fsdd")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"FSDD not found at .*CI=true: missing shared data fails"):
        shared_data.require_fsdd()


def test_missing_speechocean_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shared_data, "SPEECHOCEAN", tmp_path / "speechocean762-8k")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="speechocean762"):
        shared_data.require_speechocean()


def test_present_fsdd_is_returned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    monkeypatch.setattr(shared_data, "FSDD", tmp_path / "fsdd")
    monkeypatch.setenv("CI", "true")
    assert shared_data.require_fsdd() == tmp_path / "fsdd"
