"""The FSDD protocol over the real HTTP API: FAR, FRR and EER at the deployment's own threshold.

    python benchmarks/api_fsdd.py [--corpus ../shared/data/fsdd] [--database-url URL]

Starts `speakerverify serve` on a fresh SQLite data directory (or the given database),
registers and enrols the corpus speakers through the API, answers challenges as
genuine users, impostors and wrong-digit speakers (tests/support/api_protocol.py),
and writes the numbers to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.cli import _progress
from support import api_protocol
from support.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--genuine", type=int, default=50)
    parser.add_argument("--impostor", type=int, default=250)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "SPEAKERVERIFY_DATA_DIR": tmp,
            "SPEAKERVERIFY_SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            # 250 impostor answers per account in a row: the brute-force lockout would stop the protocol.
            "SPEAKERVERIFY_LOCKOUT_AFTER": "0",
            "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",  # 305 challenges per account within minutes
        }
        if args.database_url:
            env["SPEAKERVERIFY_DATABASE_URL"] = args.database_url
        t0 = time.perf_counter()
        with serve(Path(tmp), [], env) as base, httpx.Client(base_url=base, timeout=60) as http:
            result = api_protocol.run(
                http, args.corpus, genuine=args.genuine, impostor=args.impostor, progress=_progress
            )
        took = time.perf_counter() - t0
    s = result.summary()
    print(json.dumps(s, indent=1))
    body = "\n".join(
        [
            "## Verification over the HTTP API (FSDD)",
            "",
            "`benchmarks/api_fsdd.py`: 6 FSDD speakers register and enrol takes 0-5 of every digit through the "
            f"API; per speaker {args.genuine} genuine challenges (own takes 25-49 of the prompted digits), "
            f"{args.impostor} impostor challenges (other speakers' takes) and 5 wrong-digit challenges, 5 digits "
            "each; decisions at the service's default threshold (target FAR 1%), counted from the API's "
            "decisions alone (it returns no scores; score-based figures such as the EER are `speakerverify eer`'s). "
            f"Whole run {took:.0f} s on SQLite.",
            "",
            "| trials (target / impostor) | FAR % | FRR % | wrong-digit accepted | enrolment takes rejected |",
            "|---|---:|---:|---:|---:|",
            f"| {s['target_trials']} / {s['impostor_trials']} | {s['far_percent']:.2f} | {s['frr_percent']:.2f} | "
            f"{s['wrong_digit_accepted']} of {s['wrong_digit_trials']} | {s['enrol_rejected']} of 360 |",
        ]
    )
    if not args.no_write:
        write_section("api", "benchmarks/api_fsdd.py", body)


if __name__ == "__main__":
    main()
