"""Where the real server's CPU goes per verification, over sockets under concurrent load.

    python benchmarks/profile_http.py [--accounts 12] [--clients 8] [--seconds 15] [--forms binary json]
        [--py-spy PATH] [--rate 100] [--top 25]

The server and the load are perf_http.py's: ``speakerverify serve`` (SQLite, 1 worker, lockout and challenge
limit off), ``--accounts`` ready accounts (account i: FSDD speaker i mod 6, takes 0-5 enrolled through the
API), their first challenges' calibrations finished, then per form two load runs of ``--seconds`` by
benchmarks/loadgen.py at ``--clients`` (challenge + 5-digit answer of real takes 6-20):

1. unprofiled: the server process's CPU time during the run divided by the completed verifications;
2. sampled: py-spy records the server process meanwhile, only the thread holding the GIL (py-spy's idle
   detection counts threads waiting for the GIL, the threadpool queue or the write lock as busy: 40-60% of
   all samples were ``Condition.wait``). C code that releases the GIL (sqlite3 stepping a statement, some
   numpy kernels, uvloop's socket I/O) is then under-counted. Each sample goes
   to a layer of profile_verify.py's table (the innermost layer function on its stack); a layer's ms are its
   share of the samples times run 1's CPU per verification.

Also printed: the busiest functions (own samples and inclusive), for the layer "framework" in particular,
so the difference to the in-process figure (profile_verify.py: no sockets, one client) can be read off.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import profile_verify
from perf_http import SECRET, _cpu_seconds, load, wait_idle

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.features import extract, read_audio
from support import api_protocol
from support.server import serve_process


def setup(corpus: str) -> dict[str, Any]:
    """perf_http's enrolment takes, spare takes and answers (takes 6-20 of every speaker, per digit)."""
    recs = [r for r in read_fsdd(corpus) if r.take < 25]
    feats = {(r.speaker, r.digit, r.take): extract(read_audio(r.path)) for r in recs}
    speakers = sorted({r.speaker for r in recs})
    return {
        "enrol": {s: [(d, *feats[(s, d, t)]) for t in range(6) for d in range(10)] for s in speakers},
        "spare": {s: {d: [feats[(s, d, t)] for t in (24, 23, 22)] for d in range(10)} for s in speakers},
        "answers": {
            str(d): [api_protocol.features_payload(*feats[(s, d, t)]) for s in speakers for t in range(6, 21)]
            for d in range(10)
        },
    }


def enrol_accounts(base: str, data: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` ready accounts, as perf_http.run_ours makes them, each with one challenge (its calibration)."""
    accounts = []
    with httpx.Client(base_url=base, timeout=120) as http:
        api = api_protocol.ApiClient(http, form="binary")
        speakers = sorted(data["enrol"])
        for i in range(n):
            spk = speakers[i % len(speakers)]
            auth = api.register_and_login(f"{spk}-{i}@perf.example.org", f"perf-{spk}-{i}")
            for digit, mfcc, energy in data["enrol"][spk]:
                r = api.enrol(auth, digit, mfcc, energy)
                spare = iter(data["spare"][spk][digit])
                while r.status_code == 422 and r.json().get("reason") == "wrong_digit":
                    r = api.enrol(auth, digit, *next(spare))
                if r.status_code != 201:
                    raise RuntimeError(r.text)
            accounts.append({"auth": auth})
        for account in accounts:
            api.challenge(account["auth"])
    return accounts


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of ``pid``: "event loop" (its main thread), "threads" (the rest: the threadpool
    running the use cases, the background calibration worker; threads that ended included), the kernel's
    share of both, and the minor page faults."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(path: Path) -> list[str]:
        return path.read_text().rsplit(")", 1)[1].split()

    proc, main = fields(Path(f"/proc/{pid}/stat")), fields(Path(f"/proc/{pid}/task/{pid}/stat"))
    loop = (int(main[11]) + int(main[12])) / tick
    return {
        "event loop": loop,
        "threads": (int(proc[11]) + int(proc[12])) / tick - loop,
        "of which in the kernel": int(proc[12]) / tick,
        "page faults": float(proc[7]),
    }


def record(py_spy: str, pid: int, rate: int, out: Path, gil: bool) -> subprocess.Popen[bytes]:
    cmd = [py_spy, "record", "--pid", str(pid), "-r", str(rate), "-f", "raw", "-o", str(out)]
    cmd += ["--gil"] if gil else []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached before the load starts
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGINT):
        print(err.decode()[-500:], file=sys.stderr)


def functions(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """(own samples per function, inclusive samples per function, all samples) of py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [f"{func} ({where})" for where, func in profile_verify._frames(stack)]
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return own, incl, total


def report(form: str, row: dict[str, float], threads: dict[str, float], samples: Path, top: int) -> None:
    per = row["cpu_server"]
    found = profile_verify.read_samples(samples)
    total = max(sum(v[0] for v in found.values()), 1)
    n_ops = max(row["n"], 1)
    split = ", ".join(f"{k} {1000 * v / n_ops:.1f} ms" for k, v in threads.items() if k != "page faults")
    split += f"; {threads['page faults'] / n_ops:.0f} page faults"
    print(
        f"\n### {form}: {row['n']:.0f} verifications in the unprofiled run, {row['rps']:.1f}/s, "
        f"server CPU {per:.1f} ms per verification ({split}); load average {os.getloadavg()[0]:.2f}\n"
    )
    # The shares are of GIL-held samples: Python-level work is over-weighted against numpy kernels and
    # sqlite3 steps that release the GIL, so the ms column ranks layers rather than measures them.
    print("| layer | share of GIL-held samples | share x CPU per verification, ms | of which SQLAlchemy/sqlite3 |")
    print("|---|---:|---:|---:|")
    order = [name for name, _ in profile_verify.LAYERS] + [profile_verify.FRAMEWORK, "other (event loop, background)"]
    for name in order:
        k, db = found.get(name, [0, 0])
        print(f"| {name} | {100 * k / total:.1f}% | {per * k / total:.2f} | {per * db / total:.2f} |")
    own, incl, n = functions(samples)
    print(f"\nbusiest functions, own samples (of {n}):")
    for f, k in own.most_common(top):
        print(f"  {100 * k / n:5.1f}%  {per * k / n:5.2f} ms  {f}")
    print("\ninclusive (speakerverify functions):")
    ours = [(f, k) for f, k in incl.most_common() if "speakerverify/" in f]
    for f, k in ours[:top]:
        print(f"  {100 * k / n:5.1f}%  {per * k / n:5.2f} ms  {f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--forms", nargs="+", default=["binary", "json"], choices=["binary", "json"])
    parser.add_argument("--py-spy", default=os.environ.get("PY_SPY", "py-spy"), help="the py-spy executable")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-sample", action="store_true", help="only the unprofiled runs")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every thread py-spy thinks busy (default: only the thread holding the GIL; py-spy's idle "
        "detection counts threads waiting for the GIL, the threadpool queue or the write lock as busy)",
    )
    opts = parser.parse_args()
    py_spy = shutil.which(opts.py_spy)
    if py_spy is None and not opts.no_sample:
        parser.error(f"{opts.py_spy!r} not found (pip install py-spy, or --py-spy PATH)")
    data = setup(opts.corpus)
    env = {
        "SPEAKERVERIFY_SECRET_KEY": SECRET,
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",
        "SPEAKERVERIFY_REGISTER_MAX_PER_ADDRESS": "0",
        "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env["SPEAKERVERIFY_DATA_DIR"] = str(tmp / "sqlite")
        with serve_process(tmp, [], env) as (base, proc, _log):
            accounts = enrol_accounts(base, data, opts.accounts)
            wait_idle(int(base.rsplit(":", 1)[1]))
            for form in opts.forms:
                plan = {"accounts": accounts, "answers": data["answers"], "form": form}
                t0 = thread_cpu(proc.pid)
                row = load(base, plan, "verify", opts.clients, opts.seconds, tmp)
                t1 = thread_cpu(proc.pid)
                threads = {k: t1[k] - t0[k] for k in t0}
                if opts.no_sample:
                    n_ops = max(row["n"], 1)
                    print(
                        f"{form}: {row['n']:.0f} verifications, {row['rps']:.1f}/s, p50 {row['p50']:.0f} ms, server "
                        f"CPU {row['cpu_server']:.1f} ms each ("
                        + ", ".join(f"{k} {1000 * v / n_ops:.1f} ms" for k, v in threads.items() if k != "page faults")
                        + f"; {threads['page faults'] / n_ops:.0f} page faults); load average {os.getloadavg()[0]:.2f}"
                    )
                    continue
                assert py_spy is not None
                samples = tmp / f"samples-{form}.txt"
                c0 = _cpu_seconds(str(proc.pid))
                sampler = record(py_spy, proc.pid, opts.rate, samples, not opts.all_threads)
                sampled = load(base, plan, "verify", opts.clients, opts.seconds, tmp)
                stop(sampler)
                print(
                    f"  sampled run: {sampled['n']:.0f} verifications, server CPU "
                    f"{1000 * (_cpu_seconds(str(proc.pid)) - c0) / max(sampled['n'], 1):.1f} ms each",
                    file=sys.stderr,
                )
                if os.environ.get("PROFILE_KEEP"):
                    Path(f"{os.environ['PROFILE_KEEP']}-{form}.txt").write_text(samples.read_text())
                report(form, row, threads, samples, opts.top)


if __name__ == "__main__":
    main()
