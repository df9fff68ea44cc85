"""CPU per verification (challenge + 5-digit answer) through the real app in-process, and where it goes.

    python benchmarks/profile_verify.py [--pairs 200] [--form binary|json] [--accounts 6] [--py-spy PATH]

A fresh SQLite file (lockout and the challenge limit off), the 6 FSDD speakers registered and enrolled
(takes 0-5 of every digit) through the API, one warm-up challenge + answer per account (calibrations,
model cache), then ``--pairs`` challenge + answer pairs, round robin over the accounts, sent through
``httpx.ASGITransport`` into the app (no sockets: the server's HTTP parsing is the framework floor's and
is not measured here). Answers are real FSDD development takes (6-21) never sent to that account before:
every other pair the account's own speaker (mostly accepts), else the next speaker (rejects).

Two passes over the same kind of load:

1. unprofiled: ``time.process_time`` of the whole process per pair (server + the in-process client);
2. sampled: py-spy (``--py-spy``, e.g. ``pip install py-spy`` into any venv) records this process's
   non-idle threads; each sample goes to the layer of the innermost layer function on its stack
   (``LAYERS``), server samples under none of them to the framework, and the rest to the in-process client
   or "other". A layer's ms are its share of the samples times pass 1's CPU per verification.

Also prints the count of decisions and reasons (the prompted digits are random, so two runs differ a
little; the tests check that decisions are unchanged).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import numpy as np
from sqlalchemy import event

from speakerverify.config import Argon2Params, settings_from_env
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio, wire
from speakerverify.http.app import create_app
from speakerverify.storage import migrate
from speakerverify.storage.db import Database
from support import api_protocol

PASSWORD = "profile-verify-password"
DEV_TAKES = tuple(range(6, 22))
SPARE_TAKES = (24, 23, 22)  # said again when an enrolment take is refused as another digit
Feats = dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]]

# Layers, each named by the functions that start it (path suffix, function name). A sample belongs to the
# layer of the innermost such function on its stack (so the calibration read inside a challenge is the
# calibration read's); a server sample under none of them is the framework's.
LAYERS: list[tuple[str, list[tuple[str, str]]]] = [
    ("auth (token check + revocation read)", [("http/auth.py", "any_claimant")]),
    (
        "parse (body -> arrays, validation)",
        [
            ("http/features_in.py", "read_feature_body"),
            ("http/features_in.py", "segments_from_binary"),
            ("http/features_in.py", "segments_from_json"),
        ],
    ),
    ("challenge (lockout check, model lookup, insert)", [("app/verification.py", "new_challenge")]),
    (
        "calibration read (challenge and answer)",
        [("app/calibration.py", "current_calibration"), ("app/calibration.py", "serving_calibration")],
    ),
    (
        "answer: read transaction",
        [
            ("app/verification.py", "_pending_digits"),
            ("app/lockout.py", "check_open"),
            ("voice/runtime.py", "speaker"),
            ("app/replay.py", "seen"),
        ],
    ),
    (
        "answer: post-process + UBM alignment",
        [("features/postprocess.py", "postprocess"), ("models/scoring.py", "align")],
    ),
    ("answer: plausibility gate", [("voice/plausible.py", "implausible")]),
    ("answer: replay templates + distances", [("models/replay.py", "template"), ("app/replay.py", "distances")]),
    ("answer: quality (SNR)", [("features/quality.py", "estimate_quality")]),
    ("answer: scoring", [("voice/decision.py", "score_answer")]),
    ("answer: write transaction", [("app/verification.py", "_settle")]),
    ("answer: the rest of the use case", [("app/verification.py", "verify")]),
]
FRAMEWORK = "framework (ASGI, routing, validation, threadpool hand-off, responses)"
SERVER_ROOTS = [("fastapi/applications.py", "__call__"), ("threading.py", "_bootstrap")]
DB_FRAMES = ("sqlalchemy/", "sqlite3/", "psycopg")


def features(corpus: str) -> Feats:
    recs = [r for r in read_fsdd(corpus) if r.take < 25]
    return {(r.speaker, r.digit, r.take): extract(read_audio(r.path)) for r in recs}


def settings(tmp: Path) -> Any:
    env = {
        "SPEAKERVERIFY_DATA_DIR": str(tmp),
        "SPEAKERVERIFY_SECRET_KEY": "profile-verify-secret-0123456789-abcdef",
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",
        "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",
        "SPEAKERVERIFY_REGISTER_MAX_PER_ADDRESS": "0",
    }
    s = settings_from_env(env)
    return replace(s, argon2=Argon2Params(time_cost=1, memory_kib=64, parallelism=1))  # login is not measured


class Picker:
    """Fresh development takes per account: never the same take twice to one account."""

    def __init__(self, speakers: list[str], seed: int) -> None:
        self.speakers = speakers
        self.rng = np.random.default_rng(seed)
        self.sent: dict[int, set[tuple[str, int, int]]] = collections.defaultdict(set)

    def answer(self, account: int, genuine: bool, digits: list[int]) -> list[tuple[str, int, int]]:
        n = len(self.speakers)
        order = [account % n] if genuine else []
        order += [(account + 1 + k) % n for k in range(n - 1)] + [account % n]
        keys = []
        for d in digits:
            key = next(
                (self.speakers[s], d, t)
                for s in order
                for t in self.rng.permutation(DEV_TAKES)
                if (self.speakers[s], d, int(t)) not in self.sent[account]
            )
            key = (key[0], key[1], int(key[2]))
            self.sent[account].add(key)
            keys.append(key)
        return keys


async def _post(http: httpx.AsyncClient, url: str, **kw: Any) -> httpx.Response:
    r = await http.post(url, **kw)
    if r.status_code >= 300:
        raise RuntimeError(f"{url}: {r.status_code} {r.text}")
    return r


async def setup_accounts(http: httpx.AsyncClient, feats: Feats, speakers: list[str], n: int) -> list[dict[str, str]]:
    auths = []
    for i in range(n):
        spk = speakers[i % len(speakers)]
        body = {
            "email": f"{spk}-{i}@profile.example.org",
            "password": PASSWORD,
            "alias": f"p-{spk}-{i}",
            "consent": True,
        }
        await _post(http, "/api/v1/users", json=body)
        token = await _post(http, "/api/v1/sessions", json={"email": body["email"], "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for t in range(6):
            for d in range(10):
                raw = wire.encode_take(*feats[(spk, d, t)], DEFAULT_CONFIG.config_id, d)
                r = await http.post(
                    "/api/v1/enrolment/utterances", content=raw, headers={**auth, "Content-Type": wire.CONTENT_TYPE}
                )
                spare = iter(SPARE_TAKES)
                while r.status_code == 422 and r.json().get("reason") == "wrong_digit":
                    raw = wire.encode_take(*feats[(spk, d, next(spare))], DEFAULT_CONFIG.config_id, d)
                    r = await http.post(
                        "/api/v1/enrolment/utterances", content=raw, headers={**auth, "Content-Type": wire.CONTENT_TYPE}
                    )
                if r.status_code != 201:
                    print(f"  enrol {spk} {d} {t}: {r.status_code} {r.text[:120]}", file=sys.stderr)
        auths.append(auth)
    return auths


async def pair(
    http: httpx.AsyncClient, auth: dict[str, str], account: int, genuine: bool, picker: Picker, feats: Feats, form: str
) -> tuple[str, str]:
    ch = (await _post(http, "/api/v1/challenges", headers=auth)).json()
    keys = picker.answer(account, genuine, ch["digits"])
    if form == "binary":
        raw = wire.encode_answer(ch["challenge_id"], [(k[1], *feats[k]) for k in keys])
        r = await _post(http, "/api/v1/verifications", content=raw, headers={**auth, "Content-Type": wire.CONTENT_TYPE})
    else:
        segs = [{"digit": k[1], **api_protocol.features_payload(*feats[k], "json")} for k in keys]
        r = await _post(
            http, "/api/v1/verifications", json={"challenge_id": ch["challenge_id"], "segments": segs}, headers=auth
        )
    out = r.json()
    return out["decision"], out["reason"]


def _frames(stack: str) -> list[tuple[str, str]]:
    """py-spy's collapsed frames "func (path:line)", outermost first, as (path, func)."""
    out = []
    for frame in stack.split(";"):
        func, _, rest = frame.partition(" (")
        out.append((rest.rsplit(":", 1)[0], func))
    return out


def _matches(frame: tuple[str, str], names: list[tuple[str, str]]) -> bool:
    func = frame[1].rsplit(".", 1)[-1]  # py-spy names methods Class.method
    return any(frame[0].endswith(p) and func == f for p, f in names)


def attribute(stack: str) -> tuple[str, bool]:
    """The layer of one sampled stack (or "client" / "other"), and whether it is inside the database layer."""
    frames = _frames(stack)
    in_db = any(any(d in path for d in DB_FRAMES) for path, _ in frames)
    for frame in reversed(frames):
        for name, funcs in LAYERS:
            if _matches(frame, funcs):
                return name, in_db
    if any(_matches(f, SERVER_ROOTS) for f in frames):
        return FRAMEWORK, in_db
    if any(f[0].endswith("profile_verify.py") for f in frames):
        return "in-process client (httpx)", in_db
    return "other (event loop, background)", in_db


def read_samples(path: Path) -> dict[str, list[int]]:
    """{layer: [samples, of which in the database layer]} from py-spy's raw output."""
    found: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        layer, in_db = attribute(stack)
        found[layer][0] += int(count)
        found[layer][1] += int(count) * in_db
    return found


class Sampler:
    """py-spy recording this process (non-idle threads only) until stopped."""

    def __init__(self, py_spy: str, out: Path, rate: int) -> None:
        cmd = [
            py_spy,
            "record",
            "--pid",
            str(os.getpid()),
            "-r",
            str(rate),
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # attached before the measured work starts

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        if self.proc.returncode not in (0, -signal.SIGINT):
            print(err.decode()[-500:], file=sys.stderr)


async def run(opts: argparse.Namespace) -> None:
    feats = features(opts.corpus)
    speakers = sorted({k[0] for k in feats})
    with tempfile.TemporaryDirectory() as tmp_name:
        s = settings(Path(tmp_name))
        db = Database(s.database_url)
        migrate.upgrade(db)
        db.dispose()
        app = create_app(s)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://profile", timeout=300) as http:
                t0 = time.perf_counter()
                auths = await setup_accounts(http, feats, speakers, opts.accounts)
                picker = Picker(speakers, opts.seed)
                for i, auth in enumerate(auths):  # warm-up: calibrations, model cache, threshold
                    await pair(http, auth, i, False, picker, feats, opts.form)
                app.state.ctx.background.wait_idle(600)
                print(f"setup {time.perf_counter() - t0:.1f} s", file=sys.stderr)
                decisions: list[tuple[str, str]] = []

                async def many(n: int) -> None:
                    for k in range(n):
                        a = k % len(auths)
                        decisions.append(
                            await pair(http, auths[a], a, (k // len(auths)) % 2 == 0, picker, feats, opts.form)
                        )

                statements: collections.Counter[str] = collections.Counter()

                def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
                    statements[" ".join(statement.split())[:90]] += 1

                engine = app.state.ctx.db.engine
                event.listen(engine, "before_cursor_execute", count)
                c0, w0 = time.process_time(), time.perf_counter()
                await many(opts.pairs)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                event.remove(engine, "before_cursor_execute", count)
                print_statements(statements, opts.pairs)
                found: dict[str, list[int]] = {}
                if opts.py_spy is not None:
                    app.state.ctx.background.wait_idle(600)
                    samples = Path(tmp_name) / "samples.txt"
                    sampler = Sampler(opts.py_spy, samples, opts.rate)
                    await many(opts.pairs)
                    sampler.stop()
                    if os.environ.get("PROFILE_KEEP"):
                        Path(os.environ["PROFILE_KEEP"]).write_text(samples.read_text())
                    found = read_samples(samples)
        print_report(opts, cpu, wall, decisions, found)


def print_statements(statements: collections.Counter[str], pairs: int) -> None:
    """SQL statements per verification (BEGIN/COMMIT included), by kind."""
    print(f"\nSQL statements per verification: {sum(statements.values()) / pairs:.1f}")
    for text, n in statements.most_common():
        print(f"  {n / pairs:5.2f}  {text}")


def print_report(
    opts: argparse.Namespace, cpu: float, wall: float, decisions: list[tuple[str, str]], found: dict[str, list[int]]
) -> None:
    n = opts.pairs
    per = 1000 * cpu / n
    print(f"\nform {opts.form}, {n} challenge + answer pairs over {opts.accounts} accounts, SQLite file")
    print(
        f"unprofiled: process CPU {per:.1f} ms per verification (server + in-process client), "
        f"wall {1000 * wall / n:.1f} ms, load average {os.getloadavg()[0]:.2f}"
    )
    if not found:
        return  # no sampled pass (py-spy not found)
    total = sum(v[0] for v in found.values())
    server = sum(v[0] for k, v in found.items() if not k.startswith(("in-process", "other")))
    print(
        f"sampled (py-spy, {opts.rate}/s, a second pass of {n} pairs): {total} samples; the server's share "
        f"{100 * server / max(total, 1):.0f}%, i.e. ~{per * server / max(total, 1):.1f} ms per verification"
    )
    print("\n| layer | share of samples | ~CPU ms per verification | of which SQLAlchemy/sqlite3 |")
    print("|---|---:|---:|---:|")
    order = [name for name, _ in LAYERS] + [FRAMEWORK, "in-process client (httpx)", "other (event loop, background)"]
    for name in order:
        k, db = found.get(name, [0, 0])
        print(
            f"| {name} | {100 * k / max(total, 1):.1f}% | {per * k / max(total, 1):.2f} | "
            f"{per * db / max(total, 1):.2f} |"
        )
    db_all = sum(v[1] for k, v in found.items() if not k.startswith(("in-process", "other")))
    print(f"\nserver samples in SQLAlchemy/sqlite3: {100 * db_all / max(server, 1):.0f}%")
    counts = collections.Counter(decisions)
    print("decisions (unprofiled pass):", dict(sorted(counts.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=6)
    parser.add_argument("--form", choices=["binary", "json"], default="binary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--py-spy", default=os.environ.get("PY_SPY", "py-spy"), help="the py-spy executable")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    opts = parser.parse_args()
    found = shutil.which(opts.py_spy)
    if found is None:
        print(
            f"{opts.py_spy!r} not found (pip install py-spy, or --py-spy PATH): the sampled pass is skipped",
            file=sys.stderr,
        )
    opts.py_spy = found
    asyncio.run(run(opts))


if __name__ == "__main__":
    main()
