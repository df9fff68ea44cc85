"""How verification and enrolment cost grows with the user base (SQLite, 1 worker).

    python benchmarks/perf_growth.py [--sizes 10 1000 100000] [--seconds 10] [--keep DIR] [--no-write]

One database is grown through the sizes (users in the ``users`` table) and measured at each:

* Real users: the 6 FSDD speakers register and enrol takes 0-5 of every digit (60 takes) through
  the HTTP API of a running ``speakerverify serve``; three more accounts are enrolled for the
  enrolment measurement (6, 60 and 600 stored takes, see ``ENROL_USERS``).
* Clones: with the server stopped, set-based SQL (INSERT ... SELECT, in batches of ``--batch``)
  copies a real speaker's rows under a new user id, email and alias: the users row, the 60
  ``utterances`` rows (raw frames) and the ``speaker_models`` row (version, ready, UBM and copies: the
  model and the take replay templates are derived from the takes by the server, migration 0013).
  Clone i copies real speaker i mod 6, byte for byte; every clone has the same password, stored as
  one argon2id hash made once (hashing 100,000 passwords at the service's cost would take hours).
  No calibration, challenge or attempt rows are copied: the server makes those as it is used.
* At each size the server is restarted on the grown database; a sample of accounts (the 6 real
  users and ``--sample`` random clones) logs in; each account answers one challenge (the first
  challenge after a restart recomputes stale calibrations, timed apart); then benchmarks/loadgen.py
  runs challenge + 5-digit answer (real FSDD takes no account stores: lucas's takes 10-29) with 1 and 8
  clients for ``--seconds`` each, every operation on a uniformly random account of the sample.
  Enrolment: single-take requests for accounts holding 6, 60 and 600 takes, each followed by an
  untimed DELETE of the take it added, so the stored count is the same before every request.
* Database bytes (file + WAL after a checkpoint) per ready user, and the server's peak RSS (VmHWM).

Progress goes to stderr; the tables to stdout and to BENCHMARKS.md (section "growth") unless --no-write.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import numpy as np
from tqdm import tqdm

from speakerverify.app.security import Passwords
from speakerverify.config import SQLITE_FILE, Argon2Params
from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.features import extract, read_audio
from support import api_protocol
from support.server import serve

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from perf_http import SECRET, stats  # noqa: E402
from report import write_section  # noqa: E402

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
REAL_TAKES = range(6)  # takes 0-5 of every digit: the enrolment protocol of api_protocol
CLONE_DOMAIN = "clone.growth.example.org"
# The enrolment accounts: stored takes -> (email, the takes enrolled as (speaker, digit, take)).
MAIN, EXTRA, TIMED = "jackson", "george", "lucas"
ENROL_USERS = {
    6: [(MAIN, d, 0) for d in range(6)],  # take 0 of digits 0-5: not ready, so no content check yet
    60: [(MAIN, d, t) for t in range(6) for d in range(10)],
    600: [(MAIN, d, t) for t in range(50) for d in range(10)],  # + george's takes until 60 per digit
}
TIMED_TAKES = [(TIMED, d, t) for t in range(10, 50) for d in range(10)]  # stored by none of them
STATE_FILE = "growth-state.json"
CALIBRATION_PROCESS = ["1"]  # --calibration-process: where the server recomputes calibrations (1: a child process)


Feats = dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def enrol_email(n: int) -> str:
    return f"enrol-{n}@growth.example.org"


# --- the database --------------------------------------------------------------------------------


def db_path(work: Path) -> Path:
    return work / "data" / SQLITE_FILE


def connect(work: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(work), isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def db_bytes(work: Path) -> int:
    """Database file + WAL after a full checkpoint (nothing may hold the database open)."""
    with connect(work) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    path = db_path(work)
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    clones = f"SELECT id FROM users WHERE email LIKE '%@{CLONE_DOMAIN}'"
    q = {
        "users": "SELECT count(*) FROM users",
        "ready": "SELECT count(*) FROM speaker_models WHERE ready",
        "clones": f"SELECT count(*) FROM ({clones})",
        "clone_takes": f"SELECT count(*) FROM utterances WHERE user_id IN ({clones})",
        "clone_fingerprints": "SELECT count(*) FROM replay_fingerprints "
        f"WHERE utterance_id IS NOT NULL AND user_id IN ({clones})",
        "clone_models": f"SELECT count(*) FROM speaker_models WHERE ready AND user_id IN ({clones})",
    }
    return {k: int(conn.execute(sql).fetchone()[0]) for k, sql in q.items()}


def template_payload(conn: sqlite3.Connection, user_id: str) -> dict[str, int]:
    """Bytes of one real user's stored arrays, by kind."""
    one = conn.execute
    return {
        "takes": int(
            one("SELECT sum(length(mfcc) + length(energy)) FROM utterances WHERE user_id = ?", (user_id,)).fetchone()[0]
        ),
        "fingerprints": int(
            one(
                "SELECT coalesce(sum(length(fingerprint)), 0) FROM replay_fingerprints "
                "WHERE user_id = ? AND utterance_id IS NOT NULL",
                (user_id,),
            ).fetchone()[0]
        ),
        "model": int(
            one("SELECT coalesce(length(stats), 0) FROM speaker_models WHERE user_id = ?", (user_id,)).fetchone()[0]
        ),
    }


def clone_users(work: Path, state: dict[str, Any], target: int, batch: int) -> dict[str, Any]:
    """Add clones until the users table holds ``target`` rows; returns what was done."""
    conn = connect(work)
    # Bulk load: no WAL (the rollback journal only keeps pages that existed before), no fsync.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
    before = counts(conn)
    todo = target - before["users"]
    templates = [state["real"][s] for s in SPEAKERS]
    conn.execute("CREATE TEMP TABLE tmpl_take (template_id TEXT, rank INTEGER, utterance_id INTEGER)")
    conn.execute(
        "INSERT INTO tmpl_take SELECT user_id, row_number() OVER (PARTITION BY user_id ORDER BY id) - 1, id "
        f"FROM utterances WHERE user_id IN ({','.join('?' * len(templates))})",
        templates,
    )
    per_user = {int(n) for (n,) in conn.execute("SELECT count(*) FROM tmpl_take GROUP BY template_id")}
    if per_user != {60}:
        raise RuntimeError(f"real users should hold 60 takes each, found {per_user}")
    conn.execute("CREATE TEMP TABLE clone_map (seq INTEGER PRIMARY KEY, new_id TEXT, template_id TEXT)")
    password_hash = state["password_hash"]
    t0 = time.perf_counter()
    bar = tqdm(total=todo, desc=f"clones -> {target:,} users", unit="user", file=sys.stderr, disable=todo <= 0)
    first = before["clones"]
    while first < before["clones"] + todo:
        n = min(batch, before["clones"] + todo - first)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM clone_map")
        conn.executemany(
            "INSERT INTO clone_map VALUES (?, ?, ?)",
            [(s, uuid.uuid4().hex, templates[s % len(templates)]) for s in range(first, first + n)],
        )
        base = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM utterances").fetchone()[0])
        new_take = f"{base} + (m.seq - {first}) * 60 + t.rank"
        conn.execute(
            "INSERT INTO users (id, email, password_hash, alias, alias_key, gender, age_group, "
            "data_statement_version, consented_at, created_at, consent_model_training, token_generation) "
            f"SELECT m.new_id, 'clone-' || m.seq || '@{CLONE_DOMAIN}', ?, 'clone-' || m.seq, 'clone-' || m.seq, "
            "u.gender, u.age_group, u.data_statement_version, u.consented_at, u.created_at, 0, 0 "
            "FROM clone_map m JOIN users u ON u.id = m.template_id ORDER BY m.seq",
            (password_hash,),
        )
        conn.execute(
            "INSERT INTO utterances (id, user_id, digit, config_id, n_frames, n_mfcc, mfcc, energy, stats_ubm_id, "
            f"created_at) SELECT {new_take}, m.new_id, u.digit, u.config_id, u.n_frames, u.n_mfcc, u.mfcc, "
            "u.energy, u.stats_ubm_id, u.created_at FROM clone_map m "
            "JOIN tmpl_take t ON t.template_id = m.template_id JOIN utterances u ON u.id = t.utterance_id ORDER BY 1"
        )
        conn.execute(  # copies_id too: without it every clone's model looked built before copies existed
            "INSERT INTO speaker_models (user_id, ubm_id, copies_id, stats, version, created_at, updated_at, ready) "
            "SELECT m.new_id, s.ubm_id, s.copies_id, s.stats, s.version, s.created_at, s.updated_at, s.ready "
            "FROM clone_map m JOIN speaker_models s ON s.user_id = m.template_id ORDER BY m.seq"
        )
        conn.execute("COMMIT")
        first += n
        bar.update(n)
    bar.close()
    seconds = time.perf_counter() - t0
    after = counts(conn)
    conn.execute("PRAGMA journal_mode = WAL")  # as the service keeps it
    conn.close()
    added = after["clones"] - before["clones"]
    expected = {
        "users": target,
        "clones": before["clones"] + todo,
        "clone_takes": 60 * after["clones"],
        "clone_fingerprints": 0,  # take templates are derived, not stored (migration 0013)
        "clone_models": after["clones"],
    }
    wrong = {k: (after[k], v) for k, v in expected.items() if after[k] != v}
    if wrong:
        raise RuntimeError(f"created counts differ from the expected ones (found, expected): {wrong}")
    log(
        f"  {added:,} clones in {seconds:.1f} s; now {after['users']:,} users, {after['ready']:,} ready; counts checked"
    )
    return {"added": added, "seconds": seconds, **after}


# --- the real users (through the API) ---------------------------------------------------------------


def features(corpus: str) -> Feats:
    wanted = (
        {(s, d, t) for s in SPEAKERS for d in range(10) for t in (*REAL_TAKES, *api_protocol.SPARE_TAKES)}
        | {k for takes in ENROL_USERS.values() for k in takes}
        | {(EXTRA, d, t) for d in range(10) for t in range(50)}
        | set(TIMED_TAKES)
    )
    recs = [r for r in read_fsdd(corpus) if (r.speaker, r.digit, r.take) in wanted]
    return {(r.speaker, r.digit, r.take): extract(read_audio(r.path)) for r in recs}


def server_env(work: Path) -> dict[str, str]:
    return {
        "SPEAKERVERIFY_SECRET_KEY": SECRET,
        "SPEAKERVERIFY_LOCKOUT_AFTER": "0",  # impostor answers are rejected: never lock the sample out
        "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",  # a load test: thousands of challenges per account
        "SPEAKERVERIFY_DATA_DIR": str(work / "data"),
        "SPEAKERVERIFY_TIMING_LOG": "1",  # a line per challenge and answer: calibration and model wait (app/timing.py)
        "SPEAKERVERIFY_CALIBRATION_PROCESS": CALIBRATION_PROCESS[0],
    }


def setup_real_users(work: Path, feats: Feats) -> dict[str, Any]:
    """Register and enrol the 6 FSDD speakers and the enrolment accounts through the API."""
    state: dict[str, Any] = {"real": {}, "enrol": {}, "extra_takes": 0, "extra_rejected": []}
    with serve(work, [], server_env(work)) as base, httpx.Client(base_url=base, timeout=120) as http:
        api = api_protocol.ApiClient(http)
        jobs: list[tuple[str, dict[str, str], list[tuple[str, int, int]]]] = []
        for spk in SPEAKERS:
            auth = api.register_and_login(f"{spk}@fsdd.example.org", f"fsdd-{spk}")
            jobs.append((spk, auth, [(spk, d, t) for t in REAL_TAKES for d in range(10)]))
        for n, takes in ENROL_USERS.items():
            jobs.append((str(n), api.register_and_login(enrol_email(n), f"enrol-{n}"), takes))
        for name, auth, takes in tqdm(jobs, desc="real users (API)", file=sys.stderr):
            stored = [0] * 10
            for spk, digit, take in takes:
                r = api.enrol(auth, digit, *feats[(spk, digit, take)])
                spare = iter(reversed(api_protocol.SPARE_TAKES))  # a genuine take refused: said again, as users do
                while name in SPEAKERS and r.status_code == 422 and r.json().get("reason") == "wrong_digit":
                    r = api.enrol(auth, digit, *feats[(spk, digit, next(spare))])
                if r.status_code == 201:
                    stored[digit] += 1
                elif r.status_code == 422 and name == "600":
                    state["extra_rejected"].append(f"{spk} {digit} take {take}: {r.json().get('reason')}")
                else:
                    raise RuntimeError(f"{name}: take {spk} {digit} {take}: {r.status_code} {r.text}")
            if name == "600":  # jackson's 50 takes of every digit; george's fill each digit to 60
                for digit in range(10):
                    take = 0
                    while stored[digit] < 60:
                        if take >= 50:
                            raise RuntimeError(f"not enough of {EXTRA}'s takes of {digit} accepted")
                        r = api.enrol(auth, digit, *feats[(EXTRA, digit, take)])
                        if r.status_code == 201:
                            stored[digit] += 1
                            state["extra_takes"] += 1
                        elif r.status_code == 422:
                            state["extra_rejected"].append(f"{EXTRA} {digit} take {take}: {r.json().get('reason')}")
                        else:
                            raise RuntimeError(r.text)
                        take += 1
    conn = connect(work)
    for spk in SPEAKERS:
        state["real"][spk] = conn.execute(
            "SELECT id FROM users WHERE email = ?", (f"{spk}@fsdd.example.org",)
        ).fetchone()[0]
    for n in ENROL_USERS:
        state["enrol"][str(n)] = conn.execute("SELECT id FROM users WHERE email = ?", (enrol_email(n),)).fetchone()[0]
        got = conn.execute("SELECT count(*) FROM utterances WHERE user_id = ?", (state["enrol"][str(n)],)).fetchone()[0]
        if got != n:
            raise RuntimeError(f"enrolment account {n}: {got} takes stored")
    # Every clone gets this one hash (of api_protocol.PASSWORD, made by the server at registration).
    state["password_hash"] = conn.execute(
        "SELECT password_hash FROM users WHERE id = ?", (state["real"][SPEAKERS[0]],)
    ).fetchone()[0]
    state["payload"] = template_payload(conn, state["real"][SPEAKERS[0]])
    conn.close()
    return state


# --- measuring one size ------------------------------------------------------------------------------


def server_pid(port: int) -> int:
    """The server process listening on ``port`` (1 worker: uvicorn serves in that one process)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--port {port}" in cmdline.read_bytes().replace(b"\0", b" ").decode():
                return int(cmdline.parent.name)
        except OSError:
            continue
    raise RuntimeError(f"no process serves port {port}")


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS (now) of ``pid``."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            out[line[2:5].lower()] = int(line.split()[1]) / 1024
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s(pid: int) -> float:
    """CPU seconds used so far by the child processes of ``pid`` (the server's calibration process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += cpu_s(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def login(http: httpx.Client, email: str) -> dict[str, str]:
    r = http.post("/api/v1/sessions", json={"email": email, "password": api_protocol.PASSWORD})
    if r.status_code != 201:
        raise RuntimeError(f"login {email}: {r.status_code} {r.text}")
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


ANSWER_TAKES = range(10, 30)  # lucas's takes no account stores (TIMED_TAKES): the answers' real speech


def answer_pool(feats: Feats) -> dict[str, list[dict[str, str]]]:
    """Real takes per digit for the answers (loadgen's ``answers``): synthetic frames are refused as not speech."""
    return {str(d): [api_protocol.features_payload(*feats[(TIMED, d, t)]) for t in ANSWER_TAKES] for d in range(10)}


def run_load(
    base: str, pid: int, accounts: list[dict[str, Any]], clients: int, seconds: float, tmp: Path, feats: Feats
) -> dict[str, Any]:
    """loadgen.py in its own process; also the server's CPU per operation and the rest of the machine's load."""
    plan = tmp / "plan-growth.json"
    plan.write_text(json.dumps({"accounts": accounts, "pick": "random", "answers": answer_pool(feats)}))
    cmd = [sys.executable, str(HERE / "loadgen.py"), "--base", base, "--plan", str(plan), "--mode", "verify"]
    server0, machine0, children0 = cpu_s(pid), machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    child0 = children_cpu_s(pid)
    t0 = time.perf_counter()
    out = subprocess.run(
        [*cmd, "--clients", str(clients), "--seconds", str(seconds)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server, child = cpu_s(pid) - server0, children_cpu_s(pid) - child0
    loadgen = children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime
    result = json.loads(out.stdout)
    if result["n_errors"]:
        log(f"  verify x{clients}: {result['n_errors']} errors, e.g. {result['errors'][:2]}")
    row = stats(result)
    row["server_cpu_ms"] = 1000 * server / row["n"] if row["n"] else float("nan")
    row["child_cpu_ms"] = 1000 * child / row["n"] if row["n"] else float("nan")
    row["other_cores"] = max(0.0, machine_busy_s() - machine0 - server - child - loadgen) / wall
    return row


def enrolment_timings(http: httpx.Client, auth: dict[str, str], feats: Feats, n: int) -> dict[str, Any]:
    """``n`` single-take enrolments, each followed by an untimed DELETE of the take it stored."""
    api = api_protocol.ApiClient(http)
    lat, dele, codes = [], [], {}
    for i in range(n):
        spk, digit, take = TIMED_TAKES[i % len(TIMED_TAKES)]
        t0 = time.perf_counter()
        r = api.enrol(auth, digit, *feats[(spk, digit, take)])
        ms = (time.perf_counter() - t0) * 1000
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        if r.status_code == 201:
            lat.append(ms)
            t0 = time.perf_counter()
            d = http.delete(f"/api/v1/enrolment/utterances/{r.json()['utterance_id']}", headers=auth)
            dele.append((time.perf_counter() - t0) * 1000)
            if d.status_code != 204:
                raise RuntimeError(f"delete: {d.status_code} {d.text}")
        elif r.status_code != 422:
            raise RuntimeError(f"enrol: {r.status_code} {r.text}")
    return {
        "n": len(lat),
        "p50": float(np.percentile(lat, 50)) if lat else float("nan"),
        "p95": float(np.percentile(lat, 95)) if lat else float("nan"),
        "delete_p50": float(np.percentile(dele, 50)) if dele else float("nan"),
        "codes": codes,
    }


def probe_writes(http: httpx.Client, auth: dict[str, str], feats: Feats, stop: threading.Event) -> dict[str, Any]:
    """Enrol + delete a take for ``auth`` over and over until ``stop``: how other writers fare meanwhile."""
    api = api_protocol.ApiClient(http)
    lat, codes, i = [], {}, 0
    while not stop.is_set():
        spk, digit, take = TIMED_TAKES[i % len(TIMED_TAKES)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = api.enrol(auth, digit, *feats[(spk, digit, take)])
            code = r.status_code
            if code == 201:
                http.delete(f"/api/v1/enrolment/utterances/{r.json()['utterance_id']}", headers=auth)
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        lat.append((time.perf_counter() - t0) * 1000)
        codes[code] = codes.get(code, 0) + 1
    return {"n": len(lat), "max_ms": max(lat) if lat else float("nan"), "codes": codes}


def server_errors(work: Path, port: int) -> dict[str, int]:
    """Exceptions in the server's log (``serve`` writes ``work/serve-PORT.log``): the last of each chain."""
    lines = [x for x in (work / f"serve-{port}.log").read_text(errors="replace").splitlines() if x.strip()]
    found: dict[str, int] = {}
    in_trace = False
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            in_trace = True
        elif in_trace and not line.startswith((" ", "\t")):
            in_trace = False
            chained = i + 1 < len(lines) and lines[i + 1].startswith(("The above exception", "During handling"))
            if not chained:
                found[line[:160]] = found.get(line[:160], 0) + 1
    return found


class ServerLog:
    """The server's timing lines (``SPEAKERVERIFY_TIMING_LOG``) in ``work/serve-PORT.log``, read by phase."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.last_background = ""  # the background's latest line so far: "... idle" when its queue is empty

    def lines(self) -> list[str]:
        """The timing lines written since the last call."""
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self.offset += end
        out = [x for x in data[:end].decode(errors="replace").splitlines() if x.startswith("speakerverify.timing")]
        bg = [x for x in out if x.startswith("speakerverify.timing.background")]
        self.last_background = bg[-1] if bg else self.last_background
        return out

    def idle(self) -> bool:
        return not self.last_background or self.last_background.endswith(" idle")

    def wait_idle(self, timeout: float) -> dict[str, Any]:
        """Until the background's last line says idle (or it never had a job) and 2 s pass with no new
        background line: what the server still had to do after the phase that queued it."""
        t0 = last_change = time.perf_counter()
        jobs, job_ms = 0, 0.0
        while time.perf_counter() - t0 < timeout:
            bg = [x for x in self.lines() if x.startswith("speakerverify.timing.background")]
            if bg:
                last_change = time.perf_counter()
                done = [line_fields(x) for x in bg if " job=" in x and " ms=" in x]
                jobs, job_ms = jobs + len(done), job_ms + sum(float(f["ms"]) for f in done)
            if self.idle() and time.perf_counter() - last_change > 2.0:
                break
            time.sleep(0.5)
        return {"seconds": time.perf_counter() - t0, "idle": self.idle(), "jobs": jobs, "job_s": job_ms / 1000}


def line_fields(line: str) -> dict[str, str]:
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def waits(lines: list[str]) -> dict[str, Any]:
    """Per-request calibration and model wait (ms) from the timing lines of one phase, and the background
    jobs that finished meanwhile."""
    ops = [line_fields(x) for x in lines if x.startswith("speakerverify.timing op=")]
    bg = [line_fields(x) for x in lines if x.startswith("speakerverify.timing.background job=")]
    out: dict[str, Any] = {"n": len(ops), "bg_jobs": len(bg), "bg_s": sum(float(f["ms"]) for f in bg) / 1000}
    for kind in ("calibration", "model", "total"):
        v = np.array([float(f[f"{kind}_ms"]) for f in ops]) if ops else np.zeros(1)
        out[kind] = {"p50": float(np.percentile(v, 50)), "p99": float(np.percentile(v, 99)), "max": float(v.max())}
    return out


def query_timings(work: Path, user_id: str) -> dict[str, float]:
    """ms per call of the storage queries every challenge and answer makes (server stopped, warm cache)."""
    from speakerverify.config import VoicePolicy
    from speakerverify.storage import speaker_models
    from speakerverify.storage.db import Database

    db = Database(f"sqlite:///{db_path(work)}")
    uid = uuid.UUID(user_id)
    calls = {
        "ready_user_ids(limit=max_cohort_users)": lambda s: speaker_models.ready_user_ids(
            s, exclude=uid, limit=VoicePolicy.max_cohort_users
        ),
        "count_ready()": lambda s: speaker_models.count_ready(s),
    }
    out = {}
    try:
        with db.read_session() as session:
            for name, call in calls.items():
                call(session)
                t0 = time.perf_counter()
                for _ in range(5):
                    call(session)
                out[name] = (time.perf_counter() - t0) * 1000 / 5
    finally:
        db.dispose()
    return out


def measure(work: Path, state: dict[str, Any], size: int, feats: Feats, opts: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    conn = connect(work)
    clones = [e for (e,) in conn.execute(f"SELECT email FROM users WHERE email LIKE '%@{CLONE_DOMAIN}' ORDER BY email")]
    conn.close()
    picked = [clones[i] for i in rng.choice(len(clones), min(opts.sample, len(clones)), replace=False)]
    emails = [f"{s}@fsdd.example.org" for s in SPEAKERS] + picked
    out: dict[str, Any] = {"size": size, "accounts": len(emails)}
    out["queries"] = query_timings(work, state["real"][SPEAKERS[0]])
    log(f"  storage queries (ms): {out['queries']}")
    os.sync()  # the bulk load's dirty pages must not be written back during the measurement
    t0 = time.perf_counter()
    with serve(work, [], server_env(work), timeout=600) as base, httpx.Client(base_url=base, timeout=600) as http:
        out["start_s"] = time.perf_counter() - t0
        port = int(base.rsplit(":", 1)[1])
        pid = server_pid(port)
        out["mem_start"] = memory_mb(pid)
        t0 = time.perf_counter()
        accounts = [{"auth": login(http, e)} for e in tqdm(emails, desc="log in", file=sys.stderr)]
        out["login_ms"] = (time.perf_counter() - t0) * 1000 / len(emails)
        enrol_auth = {n: login(http, enrol_email(int(n))) for n in state["enrol"]}
        slog = ServerLog(work / f"serve-{port}.log")
        slog.lines()  # start-up and log-in lines: not a challenge's
        out["mem_login"] = memory_mb(pid)
        # One challenge + answer per account. The first challenge after a restart on a grown database
        # recomputes what the growth made stale (calibrations, the deployment threshold); meanwhile a
        # second client keeps enrolling and deleting a take (other writers waiting on the database).
        api = api_protocol.ApiClient(http)
        first, answers = [], []
        seg_rng = np.random.default_rng(0)
        stop, probe = threading.Event(), {}
        with httpx.Client(base_url=base, timeout=600) as http2:
            thread = threading.Thread(
                target=lambda: probe.update(probe_writes(http2, enrol_auth["6"], feats, stop)), daemon=True
            )
            thread.start()
            time.sleep(0.5)
            for i, a in enumerate(tqdm(accounts, desc="first challenge", file=sys.stderr)):
                t0 = time.perf_counter()
                ch = api.challenge(a["auth"])
                first.append((time.perf_counter() - t0) * 1000)
                if i == 0:
                    stop.set()
                    thread.join()
                t0 = time.perf_counter()
                segs = [
                    {"digit": d, **api_protocol.features_payload(*feats[(TIMED, d, int(seg_rng.choice(ANSWER_TAKES)))])}
                    for d in ch["digits"]
                ]
                api.verify(a["auth"], ch["challenge_id"], segs)
                answers.append((time.perf_counter() - t0) * 1000)
        out["first_challenge"] = {
            "first": first[0],
            "p50": float(np.percentile(first, 50)),
            "max": float(np.max(first)),
            "total_s": sum(first) / 1000,
            "answer_p50": float(np.percentile(answers, 50)),
            "probe": probe,
        }
        log(f"  first challenges: {out['first_challenge']}")
        out["waits"] = {"first": waits(slog.lines())}
        out["mem_warm"] = memory_mb(pid)
        # The timed rows measure per-request work: the background's queued recomputations finish first.
        out["settle"] = slog.wait_idle(opts.settle_timeout)
        log(f"  background after the first challenges: {out['settle']}")
        out["verify"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for c in opts.clients:
                slog.lines()
                out["verify"][c] = run_load(base, pid, accounts, c, opts.seconds, Path(tmp), feats)
                out["waits"][f"x{c}"] = waits(slog.lines())
                log(f"  verify x{c}: {out['verify'][c]}; waits {out['waits'][f'x{c}']}")
        out["enrol"] = {}
        for n, auth in enrol_auth.items():
            out["enrol"][n] = enrolment_timings(http, auth, feats, opts.enrol_requests)
            log(f"  enrol with {n} takes: {out['enrol'][n]}")
        out["mem_end"] = memory_mb(pid)
        out["server_errors"] = server_errors(work, port)
        if out["server_errors"]:
            log(f"  exceptions in the server log: {out['server_errors']}")
        log(
            f"  memory (MB): {out['mem_start']} at start, {out['mem_warm']} after the first challenges, "
            f"{out['mem_end']} after the run"
        )
    return out


# --- the report --------------------------------------------------------------------------------------


def model_cache_text() -> str:
    """The size of the server's model cache, as its runtime declares it."""
    from dataclasses import fields

    from speakerverify.voice.runtime import VoiceRuntime

    defaults = {f.name: f.default for f in fields(VoiceRuntime)}
    if isinstance(defaults.get("cache_bytes"), int):
        return f"{defaults['cache_bytes'] / 2**20:,.0f} MiB of models"
    if isinstance(defaults.get("cache_size"), int):
        return f"{defaults['cache_size']:,} users"
    return "as configured"


def gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def body_text(
    state: dict[str, Any], results: list[dict[str, Any]], skipped: list[str], opts: argparse.Namespace
) -> str:
    pay = state["payload"]
    users = [
        "| users | ready | clones added | creation s | clones/s | database (file + WAL) | bytes per ready user | "
        "bytes per added clone | server start s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        g = r["growth"]
        users.append(
            f"| {r['size']:,} | {g['ready']:,} | {g['added']:,} | {g['seconds']:.1f} | "
            f"{g['added'] / g['seconds'] if g['seconds'] > 0 and g['added'] else 0:,.0f} | {gb(g['db_bytes'])} | "
            f"{g['db_bytes'] / g['ready']:,.0f} | "
            f"{g['marginal'] if g['marginal'] is None else format(round(g['marginal']), ',')} | {r['start_s']:.1f} |"
        )
    verify = [
        "| users | clients | accounts | completed | p50 ms | p95 ms | p99 ms | per second | errors | "
        "server CPU ms per op | its calibration process's CPU ms per op | other processes' CPU (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for c, s in r["verify"].items():
            verify.append(
                f"| {r['size']:,} | {c} | {r['accounts']} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | "
                f"{s['p99']:.1f} | {s['rps']:.1f} | {s['errors']} | {s['server_cpu_ms']:.1f} | "
                f"{s.get('child_cpu_ms', float('nan')):.1f} | {s['other_cores']:.2f} |"
            )
    first = [
        "| users | first challenge after restart ms | other writer meanwhile: requests, slowest ms, status codes | "
        "challenges p50 ms | max ms | all accounts s | answers p50 ms | login ms (argon2) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f = r["first_challenge"]
        pr = f["probe"]
        codes = ", ".join(f"{k}: {v}" for k, v in pr["codes"].items())
        first.append(
            f"| {r['size']:,} | {f['first']:,.0f} | {pr['n']}, {pr['max_ms']:,.0f}, {codes} | {f['p50']:.0f} | "
            f"{f['max']:,.0f} | {f['total_s']:.1f} | {f['answer_p50']:.0f} | {r['login_ms']:.0f} |"
        )
    wait_rows = [
        "| users | phase | requests | calibration wait p50 / p99 / max ms | model read p50 / p99 / max ms | "
        "whole request p99 / max ms | background jobs finished meanwhile (n, s) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    phases = {"first": "first challenge + answer per account", **{f"x{c}": f"load, {c} clients" for c in opts.clients}}
    for r in results:
        for key, name in phases.items():
            w = r["waits"][key]
            cal, mod, tot = w["calibration"], w["model"], w["total"]
            wait_rows.append(
                f"| {r['size']:,} | {name} | {w['n']} | {cal['p50']:.1f} / {cal['p99']:.1f} / {cal['max']:.1f} | "
                f"{mod['p50']:.1f} / {mod['p99']:.1f} / {mod['max']:.1f} | {tot['p99']:.0f} / {tot['max']:,.0f} | "
                f"{w['bg_jobs']}, {w['bg_s']:.1f} |"
            )
    settle = "; ".join(
        f"{r['size']:,} users: {r['settle']['seconds']:.0f} s, {r['settle']['jobs']} jobs "
        f"({r['settle']['job_s']:.0f} s of job time){'' if r['settle']['idle'] else ', NOT idle at the timeout'}"
        for r in results
    )
    where_calibrated = (
        "in a child process at niceness +10"
        if opts.calibration_process == "1"
        else "on a thread of the serving process"
    )
    worst = {r["size"]: max(w["calibration"]["max"] for w in r["waits"].values()) for r in results}
    cal_target = (
        "Target of the issue: no request waits more than 200 ms for calibration at 1,000 and 100,000 users. "
        "Longest calibration wait of any challenge or answer: "
        + "; ".join(f"{n:,} users {ms:.1f} ms" for n, ms in worst.items())
        + "."
    )
    enrol = [
        "| users | stored takes | enrolled (201) | p50 ms | p95 ms | other status codes | DELETE p50 ms |",
        "|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        for n, e in r["enrol"].items():
            other = ", ".join(f"{k}: {v}" for k, v in e["codes"].items() if int(k) != 201) or "none"
            enrol.append(
                f"| {r['size']:,} | {n} | {e['n']} | {e['p50']:.1f} | {e['p95']:.1f} | {other} | "
                f"{e['delete_p50']:.1f} |"
            )
    memory = [
        "| users | VmRSS after start MB | after the first challenges | per account first seen MB | "
        "VmHWM after the run MB | VmRSS after the run MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = (r["mem_warm"]["rss"] - r["mem_login"]["rss"]) / r["accounts"]
        memory.append(
            f"| {r['size']:,} | {r['mem_start']['rss']:.0f} | {r['mem_warm']['rss']:.0f} | {per:.2f} | "
            f"{r['mem_end']['hwm']:.0f} | {r['mem_end']['rss']:.0f} |"
        )
    names = list(results[0]["queries"])
    queries = ["| users | " + " | ".join(f"`{n}` ms" for n in names) + " |", "|---:|" + "---:|" * len(names)]
    for r in results:
        queries.append(
            f"| {r['size']:,} | " + " | ".join(f"{r['queries'].get(n, float('nan')):.2f}" for n in names) + " |"
        )
    lo, hi = results[0], results[-1]
    ratio = [
        f"p50 at {hi['size']:,} users / p50 at {lo['size']:,} users, {c} client{'s' * (c > 1)}: "
        f"{hi['verify'][c]['p50'] / lo['verify'][c]['p50']:.2f}x"
        for c in opts.clients
    ]
    target = "Target of the issue: verification p50 at 100,000 users within 1.5x of the value at 10 users. " + (
        "; ".join(ratio) + "."
    )
    if hi["size"] != 100_000 or lo["size"] != 10:
        target += f" (This run measured {lo['size']:,} to {hi['size']:,} users, so the target is not assessed as such.)"
    extra = state["extra_takes"]
    made = (
        "How the users were made: the 6 FSDD speakers registered and enrolled takes 0-5 of every digit (60 takes) "
        "through the HTTP API of `speakerverify serve`. With the server stopped, every other user is a clone made "
        "with set-based SQL (INSERT ... SELECT from a real speaker's rows, batches of "
        f"{opts.batch:,} users per transaction, rollback journal and synchronous=OFF during the bulk load, WAL "
        "again afterwards): a new user id, email and alias; the speaker's 60 `utterances` rows (raw frames, "
        "byte-identical) and the `speaker_models` row (ready; the model and the take replay templates are derived "
        "from the takes by the server, not stored). Clone i copies speaker i mod 6, so the calibration cohort "
        "of every user is made of real-looking takes; it also means a cohort may hold byte-identical copies of "
        "the user's own voice (the calibration values, not their cost, are unrealistic). All clones share one "
        "argon2id password hash made once by the server (hashing 100,000 passwords at the service's argon2 cost, "
        f"{state['argon2_ms']:.0f} ms each here, would take {100_000 * state['argon2_ms'] / 3.6e6:.1f} hours). "
        "No calibrations, challenges or attempts are copied. One real user's stored arrays: "
        f"{pay['takes']:,} bytes of takes, {pay['fingerprints']:,} bytes of take fingerprints, "
        f"{pay['model']:,} bytes of speaker model. Users in the tables = 6 FSDD speakers + 3 enrolment accounts "
        "(6, 60 and 600 takes; the first is not ready) + clones."
    )
    method = (
        "At each size the server (SQLite, 1 worker, SPEAKERVERIFY_LOCKOUT_AFTER=0) is restarted on the grown "
        f"database; the 6 FSDD speakers and {opts.sample} random clones (fewer at small sizes) log in, and each "
        "answers one challenge (the first challenge after a restart finds the calibrations and the deployment "
        "threshold made stale by the growth and queues them for the background: timed apart); the benchmark "
        "then waits for the server's background work to finish."
        " Then benchmarks/loadgen.py (its own "
        "process) runs challenge + 5-digit answer with real FSDD takes (lucas, takes 10-29; mostly impostors) "
        f"for "
        f"{opts.seconds:.0f} s per row, every operation on a uniformly random account of the sample. The sample "
        f"is meant to fit the server's per-process model cache ({model_cache_text()}), so after the first "
        "challenge every model is cached: the rows measure the per-request work, not model loading. Enrolment: "
        f"{opts.enrol_requests} single-take requests (FSDD {TIMED}'s takes 10-49, stored by none of the accounts) "
        "per account, each followed by an untimed DELETE of the take it stored, so the stored count is the "
        f"same before every request. The 600-take account holds {MAIN}'s takes 0-49 of every digit and "
        f"{extra} of {EXTRA}'s takes to make 60 of every digit ({len(state['extra_rejected'])} takes were "
        "rejected as another digit on the way), "
        "enrolled through the API; the 60-take account holds "
        f"{MAIN}'s takes 0-5, the 6-take account {MAIN}'s take 0 of digits 0-5 (not ready, so no content check)."
    )
    parts = [
        "## Growth with the user base",
        f"`benchmarks/perf_growth.py --sizes {' '.join(str(r['size']) for r in results)} --seconds {opts.seconds:g} "
        f"--enrol-requests {opts.enrol_requests} --settle-timeout {opts.settle_timeout:g}`.",
        made,
        method,
        "\n".join(users),
        "Verification (challenge + answer). Server CPU per op: the server process's CPU time during the row "
        "divided by the completed operations (less disturbed than latency by other work on the machine); its "
        "calibration process: the same for the server's child processes (0 when the background was idle); other "
        f"processes' CPU: the machine's busy time less the server's, its children's and the load generator's, in "
        f"cores (of "
        f"{os.cpu_count()}):\n\n" + "\n".join(verify),
        target,
        "First challenge per account after the restart (includes any calibration recomputation). While the "
        "first account's first challenge runs, a second client keeps enrolling and deleting a take of the "
        "6-take account: how many of its requests completed, the slowest, and their status codes (its writes "
        "queue behind the recomputation's write transaction):\n\n" + "\n".join(first),
        "Where the requests waited, from the server's own timing lines (`SPEAKERVERIFY_TIMING_LOG=1`, one per "
        "challenge and answer, `app/timing.py`): the wall time spent obtaining the calibration (reads of the "
        "stored calibration and threshold, and anything computed while the request waits) and reading the "
        "user's model (derived from the takes on a cache miss), per request; background jobs: the "
        f"recomputations that finished during the phase (SPEAKERVERIFY_CALIBRATION_PROCESS={opts.calibration_process}: "
        f"{where_calibrated}):\n\n" + "\n".join(wait_rows),
        cal_target,
        "Before the timed rows the benchmark waits until the server's background is idle (its timing lines), so "
        f"the rows measure the per-request work; the wait after the first challenges: {settle}.",
        "Enrolment (one take, 1 client):\n\n" + "\n".join(enrol),
        'Memory of the server process (1 worker); "per account first seen" is the growth of VmRSS over the '
        "first challenge + answer of every sampled account, divided by their number (model cache entries, "
        "calibration work):\n\n" + "\n".join(memory),
        "Storage queries behind every challenge and answer (through `calibration._current`; above 50 ready users "
        "the service runs `count_ready()` at most every 30 s), timed from the benchmark process on the database "
        "with the server stopped (warm page cache):\n\n" + "\n".join(queries),
    ]
    errors = [
        f"{r['size']:,} users: " + (", ".join(f"`{k}` x{v}" for k, v in r["server_errors"].items()) or "none")
        for r in results
    ]
    parts.append("Exceptions in the server's log: " + "; ".join(errors) + ".")
    if skipped:
        parts.append("Not measured: " + " ".join(skipped))
    before = [f"{r['size']:,} users (measured at {r['earlier']})" for r in results if r.get("earlier")]
    if before:
        parts.append(
            "Measured by an earlier run of this script on the same kept database (--keep): " + ", ".join(before) + "."
        )
    return "\n\n".join(parts)


def with_earlier(work: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results`` and the sizes an earlier run measured on the same kept database (its
    growth-result-SIZE.json), marked ``earlier``: a smaller size cannot be measured again once grown past."""
    measured = {r["size"] for r in results}
    earlier = []
    for path in work.glob("growth-result-*.json"):
        r = json.loads(path.read_text())
        if r["size"] not in measured:
            r["verify"] = {int(c): v for c, v in r["verify"].items()}
            r["earlier"] = time.strftime("%H:%M UTC", time.gmtime(path.stat().st_mtime))
            earlier.append(r)
    return sorted(earlier + results, key=lambda r: r["size"])


# --- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 100_000])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sample", type=int, default=64, help="random clones logged in at each size")
    parser.add_argument("--enrol-requests", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500, help="clones per transaction")
    parser.add_argument("--min-free-gb", type=float, default=10, help="skip a size that would leave less disk")
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the grown database in this directory")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--settle-timeout", type=float, default=1800, help="s to wait for the background's work")
    parser.add_argument(
        "--calibration-process",
        choices=["0", "1"],
        default="1",
        help="SPEAKERVERIFY_CALIBRATION_PROCESS of the server (0: calibrations on its background thread)",
    )
    opts = parser.parse_args()
    CALIBRATION_PROCESS[0] = opts.calibration_process
    base_users = len(SPEAKERS) + len(ENROL_USERS)
    if sorted(opts.sizes) != opts.sizes or opts.sizes[0] < base_users + 1:
        parser.error(f"--sizes must be ascending and above {base_users} (the real users)")

    work = opts.keep.resolve() if opts.keep else Path(tempfile.mkdtemp(prefix="speakerverify-growth-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"database in {work / 'data'}" + ("" if opts.keep else " (deleted at the end)"))
    try:
        feats = features(opts.corpus)
        state_file = work / STATE_FILE
        if state_file.exists():
            state = json.loads(state_file.read_text())
            log(f"reusing the database in {work}")
        else:
            if db_path(work).exists():
                raise SystemExit(f"{db_path(work)} exists but {state_file} does not: use an empty --keep directory")
            state = setup_real_users(work, feats)
            t0 = time.perf_counter()
            Passwords(Argon2Params()).hash(api_protocol.PASSWORD)
            state["argon2_ms"] = (time.perf_counter() - t0) * 1000
            state_file.write_text(json.dumps(state, indent=1))
        results, skipped = [], []
        for size in opts.sizes:
            conn = connect(work)
            have = counts(conn)
            conn.close()
            if size < have["users"]:
                skipped.append(f"{size:,} users (the kept database already holds {have['users']:,}).")
                log(f"skip {size}: the database already holds {have['users']:,} users")
                continue
            before = db_bytes(work)
            per_clone = (
                results[-1]["growth"]["marginal"]
                if results and results[-1]["growth"]["marginal"]
                else 1.3 * sum(state["payload"].values())
            )
            need = (size - have["users"]) * per_clone
            free = shutil.disk_usage(work).free
            if free - need < opts.min_free_gb * 1e9:
                msg = (
                    f"{size:,} users: would need ~{gb(need)} more ({per_clone:,.0f} bytes per clone), "
                    f"{gb(free)} free, and --min-free-gb is {opts.min_free_gb:g}."
                )
                skipped.append(msg)
                log("skip " + msg)
                continue
            log(f"size {size:,}: growing ({gb(need)} estimated, {gb(free)} free)")
            growth = clone_users(work, state, size, opts.batch)
            growth["db_bytes"] = db_bytes(work)
            growth["marginal"] = (growth["db_bytes"] - before) / growth["added"] if growth["added"] else None
            log(
                f"  database {gb(growth['db_bytes'])}, {growth['db_bytes'] / growth['ready']:,.0f} bytes per ready user"
            )
            result = measure(work, state, size, feats, opts)
            result["growth"] = growth
            results.append(result)
            (work / f"growth-result-{size}.json").write_text(json.dumps(result, indent=1, default=str))
        if not results:
            raise SystemExit("nothing measured")
        results = with_earlier(work, results) if opts.keep else results
        body = body_text(state, results, skipped, opts)
        print(body)
        if not opts.no_write:
            write_section("growth", "benchmarks/perf_growth.py", body)
    finally:
        if opts.keep:
            log(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
