"""HTTP latency and throughput of verification and enrolment: ours against the framework's floor and the
2020 design, in one run.

    python benchmarks/perf_http.py [--seconds 10] [--clients 1 8 32] [--forms binary json] [--no-write]

Configurations: the framework's floor (benchmarks/floor_app.py: a bare FastAPI app taking the same two
requests and parsing the same bodies, no scoring, no database), ours on SQLite with 1 worker, ours on
PostgreSQL with 2 workers (a throw-away server started here), and the original design
(benchmarks/baseline_app.py) on SQLite with 1 worker. Every row is also given as a share of the floor's
throughput in the same run (same form, same clients). The load comes from benchmarks/loadgen.py in its
own process. Verification = challenge + answer of 5 digits, each a real FSDD take no account enrolled
(synthetic frames are refused as not speech), in the binary form and as JSON. Enrolment = one FSDD take.
Also: payload bytes of one 5-digit answer, and the peak RSS of the server processes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import numpy as np

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio, wire
from speakerverify.models.baseline import SeedBaseline, baseline_frames
from speakerverify.models.speaker import SpeakerModel
from speakerverify.models.ubm import load_default_ubm
from speakerverify.voice.takes import contribution
from support import api_protocol, pgserver
from support.server import free_port, serve

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from report import write_section  # noqa: E402

SECRET = "perf-benchmark-secret-0123456789-abcdefgh"


def take_payload(mfcc: np.ndarray, energy: np.ndarray, digit: int) -> dict[str, Any]:
    """The original's JSON take (base64 float32 arrays)."""
    return {"digit": digit, **api_protocol.features_payload(mfcc, energy)}


def binary_take(mfcc: np.ndarray, energy: np.ndarray, digit: int) -> dict[str, Any]:
    """Our binary take body, base64'd into the plan file (the load generator posts the bytes)."""
    body = wire.encode_take(mfcc, energy, DEFAULT_CONFIG.config_id, digit)
    return {"digit": digit, "binary_b64": base64.b64encode(body).decode()}


def stats(result: dict[str, Any]) -> dict[str, float]:
    lat = np.array(result["latencies_ms"])
    if len(lat) == 0:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "rps": 0.0, "errors": 0}
    return {
        "n": len(lat),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "p99": float(np.percentile(lat, 99)),
        "rps": len(lat) / result["wall_s"],
        "errors": result["n_errors"],
    }


def _cpu_seconds(pid: str) -> float:
    fields = (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_rows(
    config: str, op: str, base: str, plan: dict[str, Any], mode: str, opts: argparse.Namespace, tmp: Path
) -> list[dict[str, Any]]:
    """One table row per client count in ``opts.clients``: ``mode`` of loadgen.py against ``base``."""
    rows = []
    for clients in opts.clients:
        rows.append(
            {"config": config, "op": op, "clients": clients, **load(base, plan, mode, clients, opts.seconds, tmp)}
        )
        print(rows[-1], file=sys.stderr)
    return rows


def _descends(pid: str, root: str, parents: dict[str, str]) -> bool:
    """Is ``pid`` ``root`` or below it (``parents``: pid -> parent pid)?"""
    seen = set()
    while pid not in seen:
        if pid == root:
            return True
        seen.add(pid)
        pid = parents.get(pid, "0")
    return False


def _processes() -> dict[str, tuple[str, str]]:
    """Every process on the machine: pid -> (command line, parent pid)."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
            found[proc.name] = (cmd, next(x.split()[1] for x in status.splitlines() if x.startswith("PPid:")))
        except (OSError, StopIteration, IndexError):
            continue
    return found


def _server_root(port: int, procs: dict[str, tuple[str, str]]) -> str | None:
    """The pid of the server process listening on ``port`` (uvicorn's master, or the one worker)."""
    return next(
        (
            pid
            for pid, (cmd, _) in procs.items()
            if f"--port {port}" in cmd and ("speakerverify" in cmd or "uvicorn" in cmd)
        ),
        None,
    )


def server_processes(port: int, procs: dict[str, tuple[str, str]] | None = None) -> dict[str, list[str]]:
    """Pids of the server on ``port`` (its master and every process below it: the workers and each worker's
    calibration child) and of every PostgreSQL process: {"server": [...], "postgres": [...]}. ``procs``:
    a ``_processes()`` reading, if the caller has one."""
    procs = _processes() if procs is None else procs
    root = _server_root(port, procs)
    parents = {pid: ppid for pid, (_, ppid) in procs.items()}
    server = [pid for pid in procs if root is not None and _descends(pid, root, parents)]
    return {"server": server, "postgres": [pid for pid, (cmd, _) in procs.items() if cmd.startswith("postgres")]}


def process_cpu(port: int) -> dict[str, dict[str, float]]:
    """CPU seconds so far, per pid, of ``server_processes(port)``: {"server": {pid: s}, "postgres": {pid: s}}."""
    found: dict[str, dict[str, float]] = {"server": {}, "postgres": {}}
    for kind, pids in server_processes(port).items():
        for pid in pids:
            try:
                found[kind][pid] = _cpu_seconds(pid)
            except OSError:
                continue
    return found


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds spent between two ``process_cpu`` readings by the processes alive at the second (a
    process that exited meanwhile, e.g. a PostgreSQL autovacuum worker, is left out, not subtracted)."""
    return sum(s - before.get(pid, 0.0) for pid, s in after.items())


def load(base: str, plan: dict[str, Any], mode: str, clients: int, seconds: float, tmp: Path) -> dict[str, float]:
    plan_file = tmp / f"plan-{mode}.json"
    plan_file.write_text(json.dumps(plan))
    port = int(base.rsplit(":", 1)[1])
    before, children = process_cpu(port), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "loadgen.py"),
            "--base",
            base,
            "--plan",
            str(plan_file),
            "--mode",
            mode,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    after, children_after = process_cpu(port), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.stdout)
    if result["n_errors"]:
        print(f"  {mode} x{clients}: {result['n_errors']} errors, e.g. {result['errors'][:2]}", file=sys.stderr)
    row = stats(result)
    ops = max(row["n"], 1)
    loadgen = (children_after.ru_utime + children_after.ru_stime) - (children.ru_utime + children.ru_stime)
    row["cpu_server"] = 1000 * cpu_delta(before["server"], after["server"]) / ops
    row["cpu_db"] = 1000 * cpu_delta(before["postgres"], after["postgres"]) / ops
    row["cpu_loadgen"] = 1000 * loadgen / ops
    return row


def wait_idle(port: int, limit_s: float = 600.0) -> float:
    """Block until the server on ``port`` (all its processes) uses under 5% of a core over a second: the
    calibrations its first challenges queued for the background are done, so the rows measure requests.
    Returns the seconds waited (``limit_s`` at most)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = process_cpu(port)["server"]
        time.sleep(1.0)
        if cpu_delta(before, process_cpu(port)["server"]) < 0.05:
            break
    waited = time.monotonic() - t0
    print(f"  server idle after {waited:.0f} s", file=sys.stderr)
    return waited


def _roles(port: int) -> dict[str, str]:
    """The role of each of ``server_processes(port)``'s server pids: "master" (uvicorn's supervisor when
    there are several workers), "worker" (the one process when there is one), "calibration child" (a
    worker's, ``app/background.py``) or "resource tracker" (multiprocessing's)."""
    procs = _processes()
    root = _server_root(port, procs)
    mine = {pid: procs[pid] for pid in server_processes(port, procs)["server"]}
    spawned = {p for p, (cmd, _) in mine.items() if "multiprocessing" in cmd and "resource_tracker" not in cmd}
    workers = {p for p in spawned if mine[p][1] == root}
    several = any(mine[p][1] in workers for p in spawned) or len(workers) > 1
    roles = {}
    for p, (cmd, _) in mine.items():
        if "resource_tracker" in cmd:
            roles[p] = "resource tracker"
        elif p == root:
            roles[p] = "master" if several else "worker"
        elif p in workers and several:
            roles[p] = "worker"
        else:
            roles[p] = "calibration child"
    return roles


def peak_rss_mb(port: int) -> dict[str, Any]:
    """Peak resident memory (VmHWM, MB) of each of the server's processes (``server_processes``), named by
    ``_roles``, largest first, and their sum (an upper bound of their joint peak)."""
    found = []
    for pid, role in _roles(port).items():
        try:
            text = (Path("/proc") / pid / "status").read_text()
        except OSError:
            continue
        found += [(int(x.split()[1]) / 1024, role) for x in text.splitlines() if x.startswith("VmHWM:")]
    found.sort(reverse=True)
    return {"sum": sum(mb for mb, _ in found), "each": found}


def run_ours(
    label: str, args: list[str], env: dict[str, str], setup: dict[str, Any], opts: argparse.Namespace, tmp: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = []
    work = tmp / label
    work.mkdir()
    with serve(work, args, env) as base, httpx.Client(base_url=base, timeout=120) as http:
        api = api_protocol.ApiClient(http, form="binary")
        accounts = []
        speakers = sorted(setup["enrol"])
        for i in range(opts.accounts):  # account i: speaker i mod 6, its takes 0-5
            spk = speakers[i % len(speakers)]
            auth = api.register_and_login(f"{spk}-{i}@perf.example.org", f"perf-{spk}-{i}")
            for digit, mfcc, energy in setup["enrol"][spk]:
                r = api.enrol(auth, digit, mfcc, energy)
                spare = iter(setup["spare"][spk][digit])  # a take refused as another digit is said again
                while r.status_code == 422 and r.json().get("reason") == "wrong_digit":
                    r = api.enrol(auth, digit, *next(spare))
                if r.status_code != 201:
                    raise RuntimeError(r.text)
            accounts.append({"auth": auth})
        # Each account's calibration (and the deployment threshold) computed up front, in the background. Two
        # rounds: until the first threshold is stored a challenge queues only the threshold, which pools at most
        # ``max_threshold_users`` accounts; the second round queues the rest, which would otherwise be
        # calibrated during the timed rows (seen in the timing log: 7 jobs of ~8 s in a 10 s row).
        for _ in range(2):
            for account in accounts:
                api.challenge(account["auth"])
            wait_idle(int(base.rsplit(":", 1)[1]))
        # Then an untimed load: each worker derives and caches an account's model the first time it serves
        # it (~0.1-0.3 s), and with 2 workers the rounds above reach only one of them per account (seen: the
        # first timed row on PostgreSQL at 46 ms of CPU per op, the second at 24).
        if opts.warmup > 0:
            warm = {"accounts": accounts, "answers": setup["answers"], "form": opts.forms[0]}
            load(base, warm, "verify", max(opts.clients), opts.warmup, tmp)
            wait_idle(int(base.rsplit(":", 1)[1]))
        for form in opts.forms:
            plan = {"accounts": accounts, "answers": setup["answers"], "form": form}
            rows += load_rows(label, f"verify ({form})", base, plan, "verify", opts, tmp)
        if opts.skip_enrol:
            return rows, peak_rss_mb(int(base.rsplit(":", 1)[1]))
        enrol_accounts = [
            {"auth": api.register_and_login(f"e{i}@perf.example.org", f"perf-e{i}")} for i in range(max(opts.clients))
        ]
        enrol_plan = {"accounts": enrol_accounts, "takes": setup["takes"]}
        rows += load_rows(label, "enrol", base, enrol_plan, "enrol", opts, tmp)
        port = int(base.rsplit(":", 1)[1])
        rss = peak_rss_mb(port)
    return rows, rss


def _start_app(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn (its defaults, 1 worker) serving ``factory`` from benchmarks/; (process, base URL) once up."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env={**env, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}, cwd=HERE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/docs", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    return proc, base


def run_floor(setup: dict[str, Any], opts: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """The framework's floor: the same verification requests into benchmarks/floor_app.py."""
    proc, base = _start_app("floor_app:create_app", dict(os.environ))
    rows = []
    try:
        accounts = [{"auth": {"Authorization": "Bearer floor"}}]
        for form in opts.forms:
            plan = {"accounts": accounts, "answers": setup["answers"], "form": form}
            rows += load_rows(FLOOR, f"verify ({form})", base, plan, "verify", opts, tmp)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return rows


FLOOR = "framework floor (bare FastAPI, 1 worker)"


def run_baseline(setup: dict[str, Any], opts: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    proc, base = _start_app("baseline_app:create_app", {**os.environ, "SPEAKERVERIFY_BASELINE_DB": str(tmp / "b.db")})
    rows = []
    try:
        users = [f"b{i}" for i in range(max(opts.clients))]
        with httpx.Client(base_url=base, timeout=120) as http:
            for user in users:  # 60 stored takes each, like a ready user of the original
                for t in setup["baseline_takes"][:60]:
                    http.post(f"/train/{user}", json=t).raise_for_status()
        accounts = [{"user": u} for u in users]
        label = "original design, SQLite, 1 worker"
        rows += load_rows(label, "verify", base, {"accounts": accounts}, "baseline-score", opts, tmp)
        train_plan = {"accounts": accounts, "takes": setup["baseline_takes"]}
        rows += load_rows(label, "enrol", base, train_plan, "baseline-train", opts, tmp)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return rows


def payload_table(feats: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]], corpus: str) -> tuple[str, float]:
    """The payload table, and the binary form's share of the 8 kHz audio in %."""
    keys = [("jackson", d, 30) for d in (3, 1, 4, 5, 9)]
    segs_json = [{"digit": k[1], **api_protocol.features_payload(*feats[k], "json")} for k in keys]
    segs_b64 = [{"digit": k[1], **api_protocol.features_payload(*feats[k])} for k in keys]
    segs_f16 = []
    for k in keys:
        mfcc, energy = feats[k]
        segs_f16.append(
            {
                "digit": k[1],
                "dtype": "float16",
                "mfcc_b64": base64.b64encode(np.asarray(mfcc, "<f2").tobytes()).decode(),
                "energy_b64": base64.b64encode(np.asarray(energy, "<f4").tobytes()).decode(),
            }
        )
    cid = "00000000-0000-0000-0000-000000000000"

    def size(segs: list[dict[str, Any]]) -> int:
        return len(json.dumps({"challenge_id": cid, "segments": segs}).encode())

    binary = wire.encode_answer(cid, [(k[1], *feats[k]) for k in keys], DEFAULT_CONFIG.config_id)

    samples = sum(len(read_audio(Path(corpus) / "recordings" / f"{k[1]}_{k[0]}_{k[2]}.wav")) for k in keys)
    raw8, raw48 = samples * 2, samples * 6 * 2
    rows = [
        ("JSON numbers", size(segs_json)),
        ("JSON, base64 float32", size(segs_b64)),
        ("JSON, base64 float16 MFCC", size(segs_f16)),
        (f"binary `{wire.CONTENT_TYPE}` (float16)", len(binary)),
        ("raw audio, 8 kHz 16-bit", raw8),
        ("raw audio, 48 kHz 16-bit", raw48),
    ]
    text = (
        "| body | bytes | % of 8 kHz audio |\n|---|---:|---:|\n"
        + "\n".join(f"| {name} | {b:,} | {100 * b / raw8:.0f} |" for name, b in rows)
        + f"\n\n({samples / 8000:.2f} s of speech: FSDD jackson digits 3 1 4 5 9, take 30.)"
    )
    return text, 100 * len(binary) / raw8


def targets(rows: list[dict[str, Any]], compute: dict[str, float], binary_share: float) -> str:
    """The issue's targets against this run's numbers: met or not, and by how much."""

    def row(config: str, op: str, clients: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["config"] == config and r["op"] == op and r["clients"] == clients), None)

    lines = ["| target | measured | met |", "|---|---|---|"]

    def add(target: str, value: float | None, ok: bool, fmt: str) -> None:
        lines.append(f"| {target} | {'-' if value is None else fmt.format(value)} | {'yes' if ok else 'no'} |")

    forms = sorted({r["op"] for r in rows if r["op"].startswith("verify")})
    for config in ("ours, SQLite, 1 worker", "ours, PostgreSQL, 2 workers"):
        for op in forms:
            r = row(config, op, 8)
            if r is None:
                continue
            add(f"{op} p99 <= 50 ms at 8 clients ({config})", r["p99"], r["p99"] <= 50, "{:.1f} ms")
            add(f"{op} >= 150/s at 8 clients ({config})", r["rps"], r["rps"] >= 150, "{:.0f}/s")
            floor = row(FLOOR, op, 8)
            if floor and floor["rps"]:
                share = 100 * r["rps"] / floor["rps"]
                add(f"{op} >= 25% of the floor at 8 clients ({config})", share, share >= 25, "{:.0f}%")
    ours, orig = row("ours, SQLite, 1 worker", "enrol", 1), row("original design, SQLite, 1 worker", "enrol", 1)
    add(
        "enrolment p50 <= 15 ms (SQLite, 1 client)", ours and ours["p50"], bool(ours and ours["p50"] <= 15), "{:.1f} ms"
    )
    if ours and orig:
        speedup = orig["p50"] / ours["p50"]
        add("enrolment >= 10x the original's refit at 60 takes (HTTP p50, 1 client)", speedup, speedup >= 10, "{:.1f}x")
    model_speedup = compute["refit"] / compute["ours"]
    add("... the model work alone", model_speedup, model_speedup >= 10, "{:.0f}x")
    add("binary payload <= 20% of the 8 kHz audio", binary_share, binary_share <= 20, "{:.1f}%")
    return "Targets of the performance issue in this run (growth: see the growth section):\n\n" + "\n".join(lines)


def compute_only(
    feats: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]], repeats: int = 30
) -> dict[str, float]:
    """Milliseconds (median) of the model work alone for one enrolment take, jackson takes 0-5 (60 takes):
    the original refits its GMM on the 60-take log; ours computes what the take adds to the model (its
    statistics and its noisy copies', ``voice.takes.contribution``) and adds it to the cached model of the 59
    other takes (nothing is stored: models are derived from the takes)."""
    keys = [("jackson", d, t) for t in range(6) for d in range(10)]
    utts = [(k[1], baseline_frames(*feats[k])) for k in keys]
    refit = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        SeedBaseline.fit(utts)
        refit.append(time.perf_counter() - t0)
    gmm = load_default_ubm().gmm
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for k in keys[:-1]:
        model = model.add(k[1], contribution(gmm, *feats[k]))
    ours = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.add(keys[-1][1], contribution(gmm, *feats[keys[-1]]))
        ours.append(time.perf_counter() - t0)
    return {"refit": 1000 * float(np.median(refit)), "ours": 1000 * float(np.median(ours))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--warmup", type=float, default=10, help="seconds of untimed verification load before the timed rows"
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--accounts",
        type=int,
        default=60,
        help="ready accounts the verification load spreads over (each answer stores 5 replay fingerprints for its "
        "account, and the next answers compare against them: few accounts would pile up years of history)",
    )
    parser.add_argument("--forms", nargs="+", default=["binary", "json"], choices=["binary", "json"])
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-enrol", action="store_true", help="verification rows only (no enrolment, no original)")
    parser.add_argument("--load", default="", help="what else ran on the machine, noted with the numbers")
    parser.add_argument("--no-write", action="store_true")
    opts = parser.parse_args()

    recs = [r for r in read_fsdd(opts.corpus) if r.take < 50]
    feats = {(r.speaker, r.digit, r.take): extract(read_audio(r.path)) for r in recs}
    speakers = sorted({r.speaker for r in recs})
    setup = {
        "enrol": {s: [(d, *feats[(s, d, t)]) for t in range(6) for d in range(10)] for s in speakers},
        # Spare takes 24, 23, 22 (none is an answer) for an enrolment take refused as another digit.
        "spare": {s: {d: [feats[(s, d, t)] for t in (24, 23, 22)] for d in range(10)} for s in speakers},
        "takes": [binary_take(*feats[(s, d, t)], d) for t in range(6, 50) for s in speakers for d in range(10)],
        # Real takes no account enrolled (6-20), per digit, as answers: fresh frames are refused as not speech.
        "answers": {
            str(d): [api_protocol.features_payload(*feats[(s, d, t)]) for s in speakers for t in range(6, 21)]
            for d in range(10)
        },
        "baseline_takes": [
            take_payload(*feats[(s, d, t)], d) for t in range(6, 50) for s in speakers for d in range(10)
        ],
    }
    env = {
        "SPEAKERVERIFY_SECRET_KEY": SECRET,
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",
        "SPEAKERVERIFY_REGISTER_MAX_PER_ADDRESS": "0",
        "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",
    }
    rows: list[dict[str, Any]] = []
    rss: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows += run_floor(setup, opts, tmp)
        label = "ours, SQLite, 1 worker"
        r, rss[label] = run_ours(label, [], {**env, "SPEAKERVERIFY_DATA_DIR": str(tmp / "sqlite")}, setup, opts, tmp)
        rows += r
        if not opts.skip_postgres:
            pg = pgserver.PostgresServer()
            try:
                url = pg.create_database()
                label = "ours, PostgreSQL, 2 workers"
                r, rss[label] = run_ours(
                    label,
                    ["--workers", "2", "--database-url", url],
                    {**env, "SPEAKERVERIFY_DATA_DIR": str(tmp / "pg")},
                    setup,
                    opts,
                    tmp,
                )
                rows += r
            finally:
                pg.stop()
        if not opts.skip_enrol:
            rows += run_baseline(setup, opts, tmp)

    table = [
        "| configuration | operation | clients | completed | p50 ms | p95 ms | p99 ms | per second | errors | "
        "% of floor | CPU ms per op: server / PostgreSQL / load generator |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floors = {(r["op"], r["clients"]): r["rps"] for r in rows if r["config"] == FLOOR}
    for row in rows:
        floor = floors.get((row["op"], row["clients"]))
        share = f"{100 * row['rps'] / floor:.0f}%" if floor else "-"
        table.append(
            f"| {row['config']} | {row['op']} | {row['clients']} | {row['n']} | {row['p50']:.1f} | "
            f"{row['p95']:.1f} | {row['p99']:.1f} | {row['rps']:.1f} | {row['errors']} | {share} | "
            f"{row['cpu_server']:.1f} / {row['cpu_db']:.1f} / {row['cpu_loadgen']:.1f} |"
        )
    base = {(r["op"], r["clients"]): r for r in rows if r["config"].startswith("original")}
    ratio = ["| operation | clients | original p50 / ours p50 (SQLite, 1 worker) |", "|---|---:|---:|"]
    for r in rows:
        if r["config"] == "ours, SQLite, 1 worker" and (r["op"], r["clients"]) in base:
            ratio.append(f"| {r['op']} | {r['clients']} | {base[(r['op'], r['clients'])]['p50'] / r['p50']:.2f}x |")
    compute = compute_only(feats)
    payload, binary_share = payload_table(feats, opts.corpus)
    body = "\n\n".join(
        [
            "## HTTP performance",
            *([f"Machine load during this run: {opts.load}"] if opts.load else []),
            f"`benchmarks/perf_http.py`: load from `benchmarks/loadgen.py` (asyncio + aiohttp, its own process, on "
            f"the same 2-core machine), {opts.seconds:.0f} s per row. Verification = challenge + 5-digit answer in the "
            "binary form (real FSDD takes; most are impostors' and rejected, which costs what an accept costs), "
            f"spread over {opts.accounts} ready accounts (account i enrolled FSDD speaker i mod 6's "
            "takes 0-5 through the API); enrolment = one FSDD take in the binary form. "
            "The original design: every enrolment refits a 5-component full-covariance GMM on the user's circular "
            "log of 60 takes, every score deserialises the model from the database. Before the timed rows: "
            "every account's calibration computed (two rounds of challenges, then the server idle) and "
            f"{opts.warmup:.0f} s of untimed verification load, so each worker has derived and cached the models "
            "(a restarted worker pays that per account once; see the growth section).",
            "\n".join(table),
            "\n".join(ratio),
            "The original's verification row is one scoring request (no challenge, no content check, no replay "
            "check, no calibration, no decision); ours is a challenge plus a checked, calibrated, recorded answer. "
            "The CPU columns are the processes' CPU time during the row divided by the completed operations: with "
            "the load generator on the same 2 cores, 2000 ms of CPU a second divided by their sum is the ceiling "
            "on operations per second.",
            f"Model work of one enrolment take alone (median of 30, same run): the original's refit on 60 takes "
            f"{compute['refit']:.1f} ms; ours (the take's and its noisy copies' statistics added to the cached "
            f"model) {compute['ours']:.2f} ms: "
            f"{compute['refit'] / compute['ours']:.0f}x.",
            targets(rows, compute, binary_share),
            "Peak RSS (VmHWM) of the server's processes (the master, the workers, each worker's calibration child): "
            + "; ".join(
                f"{k}: {v['sum']:.0f} MB in all (" + ", ".join(f"{role} {mb:.0f}" for mb, role in v["each"]) + ")"
                for k, v in rss.items()
            )
            + ".",
            "Payload of one 5-digit verification answer:\n\n" + payload,
        ]
    )
    print(body)
    if not opts.no_write:
        write_section("perf", "benchmarks/perf_http.py", body)


if __name__ == "__main__":
    main()
