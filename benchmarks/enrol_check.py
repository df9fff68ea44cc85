"""Enrolment content checks against mislabelled takes, through the product's own use cases (SQLite).

    python benchmarks/enrol_check.py [--takes dev|test] [--wrong 0.2] [--speakers N] [--write]

Each FSDD speaker enrols round by round (one take of every digit per round, ``takes_per_digit`` rounds);
each prompted take is, with probability ``--wrong``, a take of another digit by the same speaker (the
microphone saying a wrong digit). A take is refused at submission (``wrong_digit``) or stored; stored
takes may be flagged later by the retroactive re-check. Then genuine takes are added for digits still
short until the user is ready. A second scenario submits only wrong digits from round one.

``--takes dev`` draws from FSDD takes 6-24 (used to choose ``enrol_content_margin``), ``test`` from 25-49.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.app import accounts, enrolment
from speakerverify.app.context import AppContext
from speakerverify.app.errors import TakeRejected
from speakerverify.app.frames import DigitFrames
from speakerverify.config import Argon2Params, Settings
from speakerverify.evaluation.protocol import DEV_TAKES, TEST_TAKES
from speakerverify.features import extract, read_audio
from speakerverify.operator.common import make_context
from speakerverify.storage import migrate
from speakerverify.storage.db import Database

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


@cache
def frames(root: str, speaker: str, digit: int, take: int) -> tuple[np.ndarray, np.ndarray]:
    mfcc, energy = extract(read_audio(Path(root) / "recordings" / f"{digit}_{speaker}_{take}.wav"))
    return mfcc.astype(np.float32), energy.astype(np.float32)


def new_user(ctx: AppContext, name: str) -> uuid.UUID:
    body = accounts.NewAccount(email=f"{name}@example.org", password=secrets.token_urlsafe(24), alias=name)
    return uuid.UUID(accounts.register(ctx, body).id)


class Run:
    """One speaker's enrolment: which submitted takes were wrong, refused, stored (by utterance id)."""

    def __init__(self, ctx: AppContext, root: str, speaker: str, pool: tuple[int, ...], seed: int) -> None:
        self.ctx, self.root, self.speaker = ctx, root, speaker
        self.user = new_user(ctx, f"{speaker}{seed}")
        self.rng = np.random.default_rng([seed, SPEAKERS.index(speaker) if speaker in SPEAKERS else 99])
        self.unused = {d: list(self.rng.permutation(pool)) for d in range(10)}
        self.log: list[dict] = []  # per submission: round, wrong, refused, id

    def submit(self, digit: int, wrong: bool, rnd: int) -> None:
        spoken = int((digit + 1 + self.rng.integers(9)) % 10) if wrong else digit
        if not self.unused[spoken]:
            return
        take = int(self.unused[spoken].pop())
        entry = {"round": rnd, "wrong": wrong, "refused": False, "id": None, "digit": digit}
        start = time.perf_counter()
        try:
            take_frames = DigitFrames(digit, *frames(self.root, self.speaker, spoken, take))
            entry["id"] = enrolment.enrol(self.ctx, self.user, take_frames).utterance_id
        except TakeRejected as exc:
            assert exc.reason == "wrong_digit", exc
            entry["refused"] = True
        entry["seconds"] = time.perf_counter() - start
        self.log.append(entry)

    def flagged(self) -> set[int]:
        return {t.utterance_id for t in enrolment.list_takes(self.ctx, self.user).utterances if t.suspect}

    def ready(self) -> bool:
        return enrolment.list_takes(self.ctx, self.user).progress.ready


def context(folder: Path, margin: float | None, flag_margin: float | None = None) -> AppContext:
    settings = Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'bench.sqlite3'}",
        secret_key="benchmark-secret-key-that-is-long-enough-0123",
        argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1),
    )
    if margin is not None:
        settings = replace(settings, voice=replace(settings.voice, enrol_content_margin=margin))
    if flag_margin is not None:
        settings = replace(settings, voice=replace(settings.voice, enrol_flag_margin=flag_margin))
    db = Database(settings.database_url)
    migrate.upgrade(db)
    return make_context(settings, db)


def mixed(ctx: AppContext, root: str, speaker: str, pool: tuple[int, ...], wrong: float, seed: int) -> dict:
    """Rounds of one take per digit, each wrong with probability ``wrong``; then genuine top-up to ready."""
    run = Run(ctx, root, speaker, pool, seed)
    rounds = ctx.settings.voice.takes_per_digit
    first_round_flagged = set()
    for rnd in range(1, rounds + 1):
        for digit in range(10):
            run.submit(digit, bool(run.rng.random() < wrong), rnd)
        if rnd == 1:
            first_round_flagged = run.flagged()
    top_up = 0
    while not run.ready() and top_up < 60:
        counts = enrolment.list_takes(ctx, run.user).progress.takes_per_digit
        for digit in [d for d in range(10) if counts[d] < rounds]:
            run.submit(digit, False, rounds + 1)
            top_up += 1
    flagged = run.flagged()
    for entry in run.log:
        entry["flagged"] = entry["id"] in flagged
        entry["flagged_after_round_1"] = entry["id"] in first_round_flagged
    return {"log": run.log, "ready": run.ready(), "top_up": top_up}


def all_wrong(ctx: AppContext, root: str, speaker: str, pool: tuple[int, ...], submissions: int, seed: int) -> dict:
    """A microphone saying a wrong digit every time, ``submissions`` times, prompted like a real client."""
    run = Run(ctx, root, speaker, pool, seed)
    for i in range(submissions):
        counts = enrolment.list_takes(ctx, run.user).progress.takes_per_digit
        digit = int(np.argmin(counts)) if i >= 10 else i
        run.submit(digit, True, 1 + i // 10)
    listed = enrolment.list_takes(ctx, run.user)
    stored = len(listed.utterances)
    flagged = sum(1 for t in listed.utterances if t.suspect)
    return {
        "accepted": stored,
        "flagged": flagged,
        "counted": sum(listed.progress.takes_per_digit),
        "ready": listed.progress.ready,
        "submitted": len(run.log),
    }


def rate(hits: int, total: int) -> str:
    return f"{hits} of {total} ({100 * hits / max(total, 1):.1f}%)"


def summarise(runs: list[dict]) -> dict:
    log = [e for r in runs for e in r["log"]]
    out: dict = {}
    for name, sel in (("round 1", lambda e: e["round"] == 1), ("rounds 2+", lambda e: e["round"] >= 2)):
        wrong = [e for e in log if e["wrong"] and sel(e)]
        genuine = [e for e in log if not e["wrong"] and sel(e)]
        out[name] = {
            "wrong refused": rate(sum(e["refused"] for e in wrong), len(wrong)),
            "wrong refused or flagged": rate(sum(e["refused"] or e["flagged"] for e in wrong), len(wrong)),
            "genuine refused": rate(sum(e["refused"] for e in genuine), len(genuine)),
            "genuine refused or flagged": rate(sum(e["refused"] or e["flagged"] for e in genuine), len(genuine)),
        }
    first = [e for e in log if e["round"] == 1 and not e["refused"]]
    out["round 1, flagged once round 1 was complete"] = {
        "wrong": rate(sum(e["flagged_after_round_1"] for e in first if e["wrong"]), sum(e["wrong"] for e in first)),
        "genuine": rate(
            sum(e["flagged_after_round_1"] for e in first if not e["wrong"]), sum(not e["wrong"] for e in first)
        ),
    }
    out["ready"] = f"{sum(r['ready'] for r in runs)} of {len(runs)}"
    out["genuine top-up takes"] = [r["top_up"] for r in runs]
    seconds = np.array([e["seconds"] for e in log])
    out["seconds per take (median, p95)"] = (
        round(float(np.median(seconds)), 3),
        round(float(np.quantile(seconds, 0.95)), 3),
    )
    return out


def table(summary: dict) -> str:
    lines = [
        "| takes | wrong refused | wrong refused or flagged | genuine refused | genuine refused or flagged |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("round 1", "rounds 2+"):
        s = summary[name]
        lines.append(
            f"| {name} | {s['wrong refused']} | {s['wrong refused or flagged']} | "
            f"{s['genuine refused']} | {s['genuine refused or flagged']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/work/shared/data/fsdd")
    parser.add_argument("--takes", choices=("dev", "test"), default="dev")
    parser.add_argument("--wrong", default="0,0.1,0.2", help="probabilities that a prompted take is wrong")
    parser.add_argument("--speakers", type=int, default=len(SPEAKERS))
    parser.add_argument("--seeds", type=int, default=1, help="enrolments per speaker and probability")
    parser.add_argument(
        "--rate-index", type=int, default=0, help="the first rate's place in a longer --wrong list (its seeds)"
    )
    parser.add_argument("--margin", type=float, default=None, help="enrol_content_margin (default: config)")
    parser.add_argument("--flag-margin", type=float, default=None, help="enrol_flag_margin (default: config)")
    parser.add_argument("--attack-submissions", type=int, default=100)
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args()
    pool = DEV_TAKES if args.takes == "dev" else TEST_TAKES
    speakers = SPEAKERS[: args.speakers]
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(Path(tmp), args.margin, args.flag_margin)
        margin = ctx.settings.voice.enrol_content_margin
        parts.append(
            f"FSDD {args.takes} takes, {len(speakers)} speakers x {args.seeds} enrolments per rate, "
            f"enrol_content_margin {margin}, enrol_flag_margin {ctx.settings.voice.enrol_flag_margin} "
            f"({ctx.settings.voice.enrol_settled_flag_margin} once every digit model holds "
            f"{ctx.settings.voice.enrol_settled_takes} other takes)"
        )
        for i, wrong in enumerate(float(w) for w in args.wrong.split(",")):
            first = 1000 * (i + args.rate_index)  # so --wrong 0.2 --rate-index 1 repeats 0.1,0.2's draws
            seeds = range(first, first + args.seeds)
            summary = summarise([mixed(ctx, args.corpus, s, pool, wrong, seed) for seed in seeds for s in speakers])
            lines = [f"{wrong:.0%} of prompted takes a wrong digit:", "", table(summary), ""]
            lines += [f"- {k}: {summary[k]}" for k in list(summary)[2:]]
            parts.append("\n".join(lines))
            print(parts[-1], "\n", flush=True)
        attacks = [all_wrong(ctx, args.corpus, s, pool, args.attack_submissions, 100) for s in speakers]
        ctx.db.dispose()
    rows = [f"- {s}: {a}" for s, a in zip(speakers, attacks, strict=True)]
    parts.append(
        f"Every take a wrong digit, from round one ({args.attack_submissions} submissions):\n\n" + "\n".join(rows)
    )
    print(parts[-1])
    if args.write:
        write_section(f"enrol-check-{args.takes}", "benchmarks/enrol_check.py", "\n\n".join(parts))


if __name__ == "__main__":
    main()
