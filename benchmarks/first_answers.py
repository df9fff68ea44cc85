"""What a new deployment's first answers are decided with, and its FAR and FRR (FSDD over the API).

    python benchmarks/first_answers.py [--genuine 50] [--impostor 150] [--no-write]

A new deployment has no threshold of its own until the background has computed it (app/calibration.py:
the provisional threshold serves meanwhile, so no request waits tens of seconds for it). This runs the
FSDD protocol of benchmarks/api_fsdd.py (6 speakers enrol takes 0-5 through the API; genuine answers from
their own takes 25-49, impostor answers from the other speakers' takes) against the service in-process,
with a background that never runs its jobs: every answer is decided as the first answers of a new
deployment are, and the audit log says with which calibration. Nothing is tuned here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path, for support)
from fastapi.testclient import TestClient

from speakerverify.app.background import Background
from speakerverify.config import SQLITE_FILE, Argon2Params, Settings, UserLimits, VoicePolicy
from speakerverify.http.app import create_app
from speakerverify.storage import migrate
from speakerverify.storage.db import Database
from support import api_protocol
from support.audit import audited

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section


class Never(Background):
    """A background that is never done: what serves before the first threshold, for the whole run."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: set[Hashable] = set()

    def submit(self, key: Hashable, job: Callable[[], object]) -> None:
        self.queued.add(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--genuine", type=int, default=50)
    parser.add_argument("--impostor", type=int, default=150)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / SQLITE_FILE}"
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            secret_key="first-answers-benchmark-secret-0123456789",
            argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1),  # not what is measured
            voice=VoicePolicy(lockout_after=0),  # impostor answers in a row: no lockout
            user_limits=UserLimits(challenges_per_hour=0),
        )
        app = create_app(settings)
        never = Never()
        app.state.ctx = dataclasses.replace(app.state.ctx, background=never)
        with TestClient(app) as http:
            result = api_protocol.run(http, args.corpus, genuine=args.genuine, impostor=args.impostor)
        modes: dict[str, int] = {}
        for i in result.attempt_ids:
            mode = str(audited(url, i).detail["calibration"])
            modes[mode] = modes.get(mode, 0) + 1
    s = result.summary()
    print(json.dumps({**s, "calibrations": modes, "queued": sorted(str(k[0]) for k in never.queued)}, indent=1))
    policy = VoicePolicy()
    body = "\n".join(
        [
            "## A new deployment's first answers (FSDD over the API)",
            "",
            "`benchmarks/first_answers.py`: until the background has computed a new deployment's first threshold "
            "(tens of seconds of CPU; no request waits for it), answers are decided at the provisional threshold "
            f"on the raw score ({policy.provisional_threshold}, `VoicePolicy.provisional_threshold`). Here the "
            "6 FSDD speakers enrol takes 0-5 through the API of the service (in-process, SQLite) and answer "
            f"{args.genuine} genuine challenges each (own takes 25-49) and {args.impostor} impostor challenges "
            "(other speakers' takes 25-49), 5 digits, with a background that never runs: every answer is "
            "decided as the first ones of a new deployment are. Calibration per attempt, from the audit log: "
            + ", ".join(f"{k} {v}" for k, v in modes.items())
            + ".",
            "",
            "| trials (target / impostor) | FAR % | FRR % | wrong-digit accepted | target FAR % |",
            "|---|---:|---:|---:|---:|",
            f"| {s['target_trials']} / {s['impostor_trials']} | {s['far_percent']:.2f} | {s['frr_percent']:.2f} | "
            f"{s['wrong_digit_accepted']} of {s['wrong_digit_trials']} | {100 * policy.target_far:.0f} |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("first_answers", "benchmarks/first_answers.py", body)


if __name__ == "__main__":
    main()
