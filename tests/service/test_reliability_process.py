"""Issue 8 against real `speakerverify serve` processes: concurrency, crash recovery, brute force across
workers, replay over HTTP, and schemathesis. Small sizes here; benchmarks/reliability.py runs them at
full size and writes RELIABILITY.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import reliability
from support.fuzz import fuzz_api


@pytest.fixture
def corpus(fsdd: Path) -> str:
    return str(fsdd / "recordings")


def _check(fig: reliability.Figure) -> None:
    print(f"{fig.name}: {fig.line()} {fig.detail}")
    assert fig.ok, (fig.line(), fig.detail)


@pytest.mark.slow
def test_parallel_enrolment_and_answers_on_sqlite(tmp_path: Path, corpus: str) -> None:
    url = reliability.sqlite_url(tmp_path)
    with reliability.servers(tmp_path, 1, url) as procs:
        bases = [p.base for p in procs]
        _check(reliability.parallel_enrolment(bases, url, corpus, "george", n=20))
        _check(reliability.parallel_answers(bases, url, corpus, "jackson", n=30))


@pytest.mark.slow
def test_parallel_enrolment_and_brute_force_across_two_postgresql_processes(
    tmp_path: Path, corpus: str, pg_database_url: str
) -> None:
    url = pg_database_url
    with reliability.servers(tmp_path, 2, url, lockout_after=5, lockout_seconds=2) as procs:
        bases = [p.base for p in procs]
        _check(reliability.parallel_enrolment(bases, url, corpus, "george", n=20))
        _check(reliability.brute_force(bases, url, corpus, "jackson", "theo", after=5, seconds=2))


@pytest.mark.slow
def test_sigkill_during_enrolment_loses_nothing(tmp_path: Path, corpus: str) -> None:
    _check(reliability.crash_during_enrolment(tmp_path, corpus, "lucas", n=24, kill_after=6))


@pytest.mark.slow
def test_replay_and_splice_over_http(tmp_path: Path, corpus: str) -> None:
    with reliability.servers(tmp_path, 1, None) as procs:
        _check(reliability.replay_over_api(procs[0].base, corpus, "nicolas", rounds=4))


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_schema_violations(tmp_path: Path) -> None:
    with reliability.servers(tmp_path, 1, None, login_max_failures_per_address=0) as procs:
        report = fuzz_api(procs[0].base, max_examples=8)
    print(report.summary())
    assert report.operations == report.documented >= 19, report.summary()
    assert all(n > 0 for n in report.per_operation.values()), report.per_operation
    assert report.failures == [], report.summary()
