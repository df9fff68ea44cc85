"""Fixtures for the operator command tests: one FSDD sample database shared by the module's tests."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from speakerverify import cli
from support.shared_data import require_fsdd

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*argv: str, stdin: str | None = None) -> Result:
    """``speakerverify ARGV`` in this process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(list(argv))
            except SystemExit as exc:  # argparse errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session", autouse=True)
def operator_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings as for `serve`, but in a temporary data directory with a fixed test key."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPEAKERVERIFY_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))
        mp.setenv("SPEAKERVERIFY_SECRET_KEY", TEST_SECRET)
        mp.delenv("SPEAKERVERIFY_DATABASE_URL", raising=False)
        mp.delenv("SPEAKERVERIFY_UBM_FILE", raising=False)
        yield


@dataclass
class SampleDb:
    path: Path
    url: str
    passwords: dict[str, str]  # alias -> password
    emails: dict[str, str]  # alias -> email


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> SampleDb:
    """`speakerverify sample-db` on FSDD, built once; tests that change it work on a `db backup` copy."""
    fsdd = require_fsdd()
    path = tmp_path_factory.mktemp("sample") / "sample.sqlite3"
    url = f"sqlite:///{path}"
    result = run_cli("sample-db", "--corpus", str(fsdd), "--database-url", url)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert lines[0] == "email,alias,password,enrolled,ready"
    passwords, emails = {}, {}
    for line in lines[1:]:
        email, alias, password, _enrolled, ready = line.split(",")
        assert ready == "yes", line
        passwords[alias], emails[alias] = password, email
    return SampleDb(path, url, passwords, emails)


@pytest.fixture(scope="session")
def run() -> object:
    """``run(*argv, stdin=None) -> Result(code, out, err)``: the CLI in this process."""
    return run_cli
