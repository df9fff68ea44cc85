"""What an operator trying the commands as a new user hit (issue 16): each refused with the path or
argument named, before any work starts, and without a traceback."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from support import pgserver
from support.shared_data import require_fsdd


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any evaluation work fails the test: a bad argument must be refused before it."""

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr("speakerverify.evaluation.runner.evaluate", refuse)
    monkeypatch.setattr("speakerverify.models.ubm.load_default_ubm", refuse)


def test_serve_refuses_a_port_out_of_range(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("serve started listening despite a bad --port or --workers")

    monkeypatch.setattr("uvicorn.run", refuse)
    for port in ("99999", "0", "-1", "http"):
        result = run("serve", "--port", port)
        assert result.code == 2 and "--port" in result.err, (port, result.err)
    assert "65535" in run("serve", "--port", "99999").err
    assert run("serve", "--workers", "0").code == 2


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--trials", "-5"], "--trials"),
        (["--trials", "0"], "--trials"),
        (["--k", "0"], "--k"),
        (["--k", "3", "11"], "--k"),
        (["--det", "/missing/dir/x.png"], "/missing/dir"),
        (["--det", "x.txt"], ".png"),
        (["--json", "/missing/dir/x.json"], "/missing/dir"),
    ],
)
def test_eval_checks_every_argument_before_work(
    run: Any, no_work: None, tmp_path: Path, argv: list[str], named: str
) -> None:
    result = run("eval", "--corpus", str(tmp_path), *argv)
    assert result.code == 2 and named in result.err, result.err
    assert "Traceback" not in result.err


def test_eer_checks_its_output_files_before_work(run: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    for argv in (
        ["--det", "/missing/dir/x.png"],
        ["--json", "/missing/dir/x.json"],
        ["--trials", "0"],
        ["--digits", "0"],
    ):
        result = run("eer", *argv, "--database-url", url)
        assert result.code == 2 and argv[0] in result.err, result.err


def test_operator_commands_from_another_folder_create_nothing(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default data directory (./speakerverify-data) and an explicit one: refused by path, nothing made."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPEAKERVERIFY_DATA_DIR")
    monkeypatch.delenv("SPEAKERVERIFY_SECRET_KEY")
    for argv in (["users", "list"], ["ubm", "list"], ["cohort", "report"], ["attempts", "list"], ["eer"]):
        result = run(*argv)
        assert result.code == 2, (argv, result.err)
        assert str(tmp_path / "speakerverify-data" / "speakerverify.sqlite3") in result.err, result.err
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("SPEAKERVERIFY_DATA_DIR", str(tmp_path / "elsewhere"))
    result = run("users", "list")
    assert result.code == 2 and str(tmp_path / "elsewhere") in result.err
    missing = tmp_path / "no.sqlite3"
    result = run("users", "list", "--database-url", f"sqlite:///{missing}")
    assert result.code == 2 and str(missing) in result.err
    assert list(tmp_path.iterdir()) == []


def test_an_unmigrated_database_is_named_in_the_upgrade_hint(run: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch(mode=0o600)
    result = run("users", "list", "--database-url", f"sqlite:///{empty}")
    assert result.code == 2 and str(empty) in result.err and "db upgrade" in result.err


def test_a_relative_sqlite_url_gets_the_absolute_form(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["db", "upgrade"], ["users", "list"]):
        result = run(*argv, "--database-url", "sqlite:///data/x.db")
        assert result.code == 2, result.err
        assert str(tmp_path / "data" / "x.db") in result.err and "sqlite:////data/x.db" in result.err, result.err


def test_ubm_list_has_a_header(run: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run("db", "upgrade", "--database-url", url).code == 0
    result = run("ubm", "list", "--database-url", url)
    assert result.code == 0
    assert result.out.splitlines()[0].split("\t") == ["ubm_id", "components", "created_at", "models", "state", "source"]


def test_the_pg_dump_hint_can_be_pasted(run: Any, tmp_path: Path) -> None:
    """The printed command, run as printed against the test run's PostgreSQL, writes the dump; the
    password is left out (pg_dump asks for it), never masked into the URL or printed."""
    masked = run(
        "db", "backup", str(tmp_path / "x.dump"), "--database-url", "postgresql+psycopg://u:s3cret@db.example/sv"
    )
    assert masked.code == 2 and "s3cret" not in masked.err and "***" not in masked.err.split("e.g.")[1]
    url = pgserver.shared_server().create_database()
    target = tmp_path / "real.dump"
    result = run("db", "backup", str(target), "--database-url", url)
    assert result.code == 2
    command = shlex.split(result.err.split("e.g. ", 1)[1].split(" (", 1)[0])
    assert command[0] == "pg_dump" and make_url(command[-1]).password is None
    done = subprocess.run([pgserver._pg_bin("pg_dump"), *command[1:]], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert target.stat().st_size > 0


def test_features_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`speakerverify features --json FILE | head`: the reader leaves early; no BrokenPipe traceback."""
    wav = require_fsdd() / "recordings" / "0_george_0.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "speakerverify.cli", "features", "--json", str(wav)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first byte (the interpreter is still starting)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
