"""The dedicated reliability and security runs (issue 8); writes RELIABILITY.md.

    python benchmarks/reliability.py [--out RELIABILITY.md] [--examples 300] [--quick]

Starts real `speakerverify serve` processes on SQLite and on a throw-away PostgreSQL server
(tests/support/pgserver.py: needs the PostgreSQL server binaries, as `scripts/test.sh` installs), and
runs the checks of tests/support/reliability.py at full size. The CI runs the same checks
smaller (tests/service/test_reliability_*.py).
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)

from support import pgserver, reliability
from support.fuzz import fuzz_api
from support.shared_data import FSDD

REPO = Path(__file__).resolve().parents[1]
CORPUS = FSDD / "recordings"


def _timed(label: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.monotonic()
    print(f"... {label}", flush=True)
    out = fn(*args, **kwargs)
    print(f"    {time.monotonic() - start:.0f} s: {getattr(out, 'line', lambda: '')()}", flush=True)
    return out


def concurrency(
    bases: list[str], url: str, corpus: str, backend: str, n_enrol: int, n_answers: int
) -> list[reliability.Figure]:
    """Parallel enrolment posts and parallel answers to one challenge against the servers at ``bases``."""
    figures = [
        _timed(
            f"parallel enrolment, {backend}", reliability.parallel_enrolment, bases, url, corpus, "george", n=n_enrol
        ),
        _timed(
            f"parallel answers, {backend}", reliability.parallel_answers, bases, url, corpus, "jackson", n=n_answers
        ),
    ]
    for figure in figures:
        figure.name += f" ({backend})"
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "RELIABILITY.md")
    ap.add_argument("--examples", type=int, default=300, help="schemathesis examples per operation")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run of this script)")
    args = ap.parse_args()
    corpus = str(CORPUS)
    quick = args.quick
    figures: list[reliability.Figure] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp_name:
        tmp = Path(tmp_name)

        # Replay and splice over HTTP, SQLite.
        wd = tmp / "replay"
        with reliability.servers(wd, 1, None) as procs:
            figures.append(
                _timed(
                    "replay over HTTP",
                    reliability.replay_over_api,
                    procs[0].base,
                    corpus,
                    "nicolas",
                    rounds=6 if quick else 22,
                )
            )

        n_enrol, n_answers = (20, 30) if quick else (50, 100)
        # Concurrency on SQLite (one process) and PostgreSQL (two processes).
        wd = tmp / "sqlite"
        url = reliability.sqlite_url(wd)
        with reliability.servers(wd, 1, url) as procs:
            figures += concurrency([p.base for p in procs], url, corpus, "SQLite", n_enrol, n_answers)
        wd = tmp / "pg"
        url = pgserver.fresh_database_url("postgresql", wd)
        with reliability.servers(wd, 2, url, lockout_after=5, lockout_seconds=3 if quick else 5) as procs:
            bases = [p.base for p in procs]
            figures += concurrency(bases, url, corpus, "PostgreSQL", n_enrol, n_answers)
            figures.append(
                _timed(
                    "brute force, PostgreSQL",
                    reliability.brute_force,
                    bases,
                    url,
                    corpus,
                    "lucas",
                    "theo",
                    after=5,
                    seconds=3 if quick else 5,
                )
            )
            figures[-1].name += " (PostgreSQL)"

        # Crash recovery, SQLite: three bursts, each killed at a different point.
        for i, kill_after in enumerate((5, 20, 40)[: 1 if quick else 3]):
            wd = tmp / f"crash{i}"
            wd.mkdir()
            figures.append(
                _timed(
                    f"SIGKILL after {kill_after}",
                    reliability.crash_during_enrolment,
                    wd,
                    corpus,
                    ["yweweler", "lucas", "george"][i],
                    n=30 if quick else 80,
                    kill_after=kill_after,
                )
            )
            figures[-1].name += f" (killed after {kill_after} acknowledged)"

        # Schemathesis.
        wd = tmp / "fuzz"
        wd.mkdir()
        with reliability.servers(wd, 1, None, login_max_failures_per_address=0) as procs:
            fuzz = _timed("schemathesis", fuzz_api, procs[0].base, max_examples=10 if quick else args.examples)
        print(fuzz.summary())

    elapsed = time.monotonic() - started
    _write_keeping_replay(args.out, render(figures, fuzz, elapsed, quick, args.examples))
    print(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0 if all(f.ok for f in figures) and not fuzz.failures and not fuzz.server_errors else 1


def _write_keeping_replay(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, keeping the replay section ``benchmarks/replay_attacks.py`` wrote there."""
    old = path.read_text() if path.exists() else ""
    found = re.search(r"^## Replay detection.*?(?=^## |\Z)", old, re.S | re.M)
    if found:
        text = text.replace("## What each check does", found.group(0).rstrip() + "\n\n## What each check does", 1)
    path.write_text(text)


def render(figures: list[reliability.Figure], fuzz: Any, elapsed: float, quick: bool, examples: int) -> str:
    """RELIABILITY.md but for its replay section, which ``benchmarks/replay_attacks.py`` writes."""
    lines = [
        "# Reliability and security figures",
        "",
        f"Generated by `python benchmarks/reliability.py` on {datetime.now(UTC):%Y-%m-%d} "
        f"({platform.machine()}, {elapsed / 60:.0f} min{', QUICK run' if quick else ''}); the CI runs the same "
        "checks smaller (`tests/service/test_reliability_*.py`). Every check runs against real "
        "`speakerverify serve` processes over HTTP, on SQLite and on PostgreSQL; nothing is mocked.",
        "",
        '"Lost" counts anything that went wrong: a 2xx whose effect is missing, a half-written row, a 5xx, '
        "a replay let through, a genuine take flagged, a lock not enforced.",
        "",
        "| check | figure | detail |",
        "|---|---|---|",
    ]
    for f in figures:
        detail = ", ".join(f"{k}: {v}" for k, v in f.detail.items())
        lines.append(f"| {f.name} | {f.line()} | {detail} |")
    lines.append(
        f"| schemathesis, every operation of /openapi.json ({fuzz.operations}), authenticated, up to "
        f"{10 if quick else examples} examples each | {fuzz.examples} tried, "
        f"{fuzz.examples - fuzz.server_errors - len(fuzz.failures)} handled, "
        f"{fuzz.server_errors + len(fuzz.failures)} lost | {fuzz.server_errors} server errors, "
        f"{len(fuzz.failures)} schema/content-type violations; statuses {dict(sorted(fuzz.statuses.items()))} |"
    )
    lines += [
        "",
        "## What each check does",
        "",
        "- *parallel enrolment*: one user, N different FSDD takes posted at once (threads; spread over the "
        "processes). Every 201 must be stored, nothing else; the stored per-digit statistics must equal "
        "a sequential enrolment of the same takes (rebuilt in id order; |difference| <= 1e-9 relative).",
        "- *parallel answers*: a ready user answers one challenge N times at once. Exactly one answer is "
        "evaluated (200) and recorded; the others get 409 (already answered) or 429 (another answer of "
        "this user is being scored), never 5xx.",
        "- *SIGKILL*: a burst of enrolments (8 at a time) with the server killed (SIGKILL to its process "
        "group) once K have been acknowledged; after a restart every acknowledged take is there, every "
        "stored take has its statistics and fingerprint, the model equals a rebuild from the stored takes, "
        "and the API lists exactly the stored takes.",
        "- *brute force*: 5 rejected answers (fresh impostor takes) alternating between two processes; then "
        "challenges and answers (with a challenge fetched before the lock) are refused with 429 + Retry-After "
        "by both processes, nothing is scored or recorded, the lock holds until its time and lifts after "
        "it; the next streak locks twice as long; a genuine accept clears the backoff. Each handled item is "
        "one of these assertions.",
        "- *replay over HTTP*: fresh genuine answers (never flagged) interleaved with answers re-sent "
        "from earlier ones and answers spliced from the user's stored enrolment takes (all rejected with "
        "`reason: replay_suspected`).",
        "- *schemathesis*: every operation of `/openapi.json`, authenticated as a registered user (a fresh "
        "account for log-out and erase); checks `not_a_server_error`, `response_schema_conformance`, "
        "`content_type_conformance`.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
