"""Attacks and failures run against a real ``speakerverify serve``: the checks behind RELIABILITY.md.

Each check returns a ``Figure``: how many requests (or segments, or trials) were tried, how many were
handled as they must be, and how many were lost (a 2xx whose effect is missing, a 5xx, a replay let
through). ``tests/service/test_reliability_*.py`` run them small in CI; ``benchmarks/reliability.py``
runs them at full size and writes RELIABILITY.md.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from speakerverify.features import DEFAULT_CONFIG, extract, read_audio
from speakerverify.storage import speaker_models, utterances
from speakerverify.storage.db import Database
from speakerverify.storage.tables import ReplayFingerprint, Utterance, VerificationAttempt

from .api_protocol import features_payload
from .server import serve_process

PASSWORD = "reliability-password-123"
SECRET = "reliability-secret-key-0123456789-abcdefghij"


@dataclass
class Figure:
    name: str
    tried: int = 0
    handled: int = 0
    lost: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.tried > 0 and self.handled == self.tried and self.lost == 0

    def line(self) -> str:
        return f"{self.tried} tried, {self.handled} handled, {self.lost} lost"


# --- FSDD takes ----------------------------------------------------------------------------------


@cache
def take(corpus: str, speaker: str, digit: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return extract(read_audio(Path(corpus) / f"{digit}_{speaker}_{n}.wav"))


def segment(corpus: str, speaker: str, digit: int, n: int, prompted: int | None = None) -> dict[str, Any]:
    return {"digit": digit if prompted is None else prompted, **features_payload(*take(corpus, speaker, digit, n))}


def enrol_body(corpus: str, speaker: str, digit: int, n: int) -> dict[str, Any]:
    return {"config_id": DEFAULT_CONFIG.config_id, "digit": digit, **features_payload(*take(corpus, speaker, digit, n))}


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler runs, open transactions die mid-way."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@contextmanager
def running(workdir: Path, env: dict[str, str], args: list[str] | None = None, timeout: float = 90) -> Iterator[Server]:
    """A `speakerverify serve` process (its own session, so it can be killed as a group)."""
    with serve_process(workdir, args or [], env, timeout) as (base, proc, log):
        yield Server(base, proc, log)


def server_env(workdir: Path, database_url: str | None = None, **settings: object) -> dict[str, str]:
    env = {"SPEAKERVERIFY_DATA_DIR": str(workdir / "data"), "SPEAKERVERIFY_SECRET_KEY": SECRET}
    # These runs answer hundreds of challenges per account: the per-user challenge limit is not what they measure.
    env["SPEAKERVERIFY_CHALLENGES_PER_HOUR"] = "0"
    if database_url:
        env["SPEAKERVERIFY_DATABASE_URL"] = database_url
    env.update({f"SPEAKERVERIFY_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@contextmanager
def servers(workdir: Path, count: int, database_url: str | None, **settings: object) -> Iterator[list[Server]]:
    """``count`` independent serve processes sharing one database (each its own workdir for logs)."""
    with ExitStack() as stack:
        out = []
        for i in range(count):
            wd = workdir / f"w{i}"
            wd.mkdir(parents=True, exist_ok=True)
            out.append(stack.enter_context(running(wd, server_env(workdir, database_url, **settings))))
        yield out


def sqlite_url(workdir: Path) -> str:
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{workdir / 'data' / 'speakerverify.sqlite3'}"


def register(base: str, email: str, alias: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=120) as http:
        r = http.post("/api/v1/users", json={"email": email, "password": PASSWORD, "alias": alias, "consent": True})
        assert r.status_code == 201, r.text
        return login(http, email)


def login(http: httpx.Client, email: str) -> dict[str, str]:
    r = http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def user_id(base: str, auth: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(httpx.get(f"{base}/api/v1/me", headers=auth, timeout=60).json()["id"])


SPARE_TAKES = range(49, 43, -1)
"""Said again when a genuine take is refused as ``wrong_digit`` (about 1 in 100), as a user would; answers
in these checks use takes below them."""


def enrol_ready(base: str, auth: dict[str, str], corpus: str, speaker: str, takes: range = range(6)) -> None:
    with httpx.Client(base_url=base, timeout=120) as http:
        for n in takes:
            for d in range(10):
                for attempt in (n, *SPARE_TAKES):
                    r = http.post(
                        "/api/v1/enrolment/utterances", json=enrol_body(corpus, speaker, d, attempt), headers=auth
                    )
                    if r.status_code != 422 or r.json().get("reason") != "wrong_digit":
                        break
                assert r.status_code == 201, r.text


# --- database inspection -------------------------------------------------------------------------


def model_vs_rebuild(database_url: str, uid: uuid.UUID, required: int = 6) -> dict[str, Any]:
    """The stored model row against the stored takes, and whether every take is whole.

    Models are derived from the takes (voice/runtime.py), so what must hold in the database is the row: it
    exists when takes do, stores no statistics, and its ``ready`` is what the takes held in the model give
    (a lost update would leave it behind). That every worker's cached model equals the one derived from
    the takes is tests/service/test_derived_models.py's."""
    db = Database(database_url)
    try:
        with db.read_session() as session:
            rows = utterances.list_utterances(session, uid)
            row = speaker_models.get_model(session, uid)
            whole = [r.stats_ubm_id is not None and len(utterances.utterance_arrays(r)[0]) == r.n_frames for r in rows]
            held = np.bincount([r.digit for r in rows if r.suspect_digit is None], minlength=10)
            half_written = len(whole) - sum(whole)
            ids = [r.id for r in rows]
            if row is None:
                equal = len(ids) == 0
            else:
                equal = row.stats is None and bool(row.ready) == bool(np.all(held >= required))
    finally:
        db.dispose()
    return {"ids": ids, "equal": equal, "half_written": half_written}


def attempts_for(database_url: str, uid: uuid.UUID) -> list[VerificationAttempt]:
    db = Database(database_url)
    try:
        with db.read_session() as session:
            return list(session.scalars(select(VerificationAttempt).where(VerificationAttempt.user_id == uid)))
    finally:
        db.dispose()


def count_rows(database_url: str, table: Any, uid: uuid.UUID) -> int:
    db = Database(database_url)
    try:
        with db.read_session() as session:
            return len(
                session.scalars(
                    select(table.id if hasattr(table, "id") else table.user_id).where(table.user_id == uid)
                ).all()
            )
    finally:
        db.dispose()


# --- checks --------------------------------------------------------------------------------------


def parallel_enrolment(bases: list[str], database_url: str, corpus: str, speaker: str, n: int = 50) -> Figure:
    """``n`` different takes posted at once for one user, spread over ``bases``: all stored, model exact."""
    auth = register(bases[0], f"par-{uuid.uuid4().hex[:8]}@example.org", f"par-{uuid.uuid4().hex[:8]}")
    uid = user_id(bases[0], auth)
    jobs = [(d, t) for t in range(0, 50) for d in range(10)][:n]

    def post(i: int) -> tuple[int, int | None]:
        d, t = jobs[i]
        r = httpx.post(
            f"{bases[i % len(bases)]}/api/v1/enrolment/utterances",
            json=enrol_body(corpus, speaker, d, t),
            headers=auth,
            timeout=300,
        )
        return r.status_code, (int(r.json()["utterance_id"]) if r.status_code == 201 else None)

    for d, t in jobs:  # features first, so the requests really are concurrent
        take(corpus, speaker, d, t)
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(post, range(n)))
    statuses = [s for s, _ in results]
    created = {i for _, i in results if i is not None}
    check = model_vs_rebuild(database_url, uid)
    stored = set(check["ids"])
    present = created & stored
    lost = len(created - stored) + sum(s >= 500 for s in statuses) + (0 if check["equal"] else 1)
    lost += len(stored - created) + check["half_written"]
    return Figure(
        f"{n} parallel enrolment posts, one user, {len(bases)} process(es)",
        tried=n,
        handled=len(present) if check["equal"] else 0,
        lost=lost,
        detail={
            "statuses": sorted(set(statuses)),
            "stored": len(stored),
            "model_equals_sequential": check["equal"],
            "half_written": check["half_written"],
        },
    )


def parallel_answers(bases: list[str], database_url: str, corpus: str, speaker: str, n: int = 100) -> Figure:
    """``n`` identical answers to one challenge at once: exactly one is evaluated and recorded."""
    auth = register(bases[0], f"ans-{uuid.uuid4().hex[:8]}@example.org", f"ans-{uuid.uuid4().hex[:8]}")
    uid = user_id(bases[0], auth)
    enrol_ready(bases[0], auth, corpus, speaker)
    ch = httpx.post(f"{bases[0]}/api/v1/challenges", headers=auth, timeout=120).json()
    body = {"challenge_id": ch["challenge_id"], "segments": [segment(corpus, speaker, d, 30) for d in ch["digits"]]}

    def answer(i: int) -> int:
        r = httpx.post(f"{bases[i % len(bases)]}/api/v1/verifications", json=body, headers=auth, timeout=300)
        return r.status_code

    with ThreadPoolExecutor(max_workers=min(n, 100)) as pool:
        statuses = list(pool.map(answer, range(n)))
    recorded = [a for a in attempts_for(database_url, uid) if str(a.challenge_id) == ch["challenge_id"]]
    evaluated = statuses.count(200)
    refused = sum(s in (409, 429) for s in statuses)
    ok = evaluated == 1 and len(recorded) == 1
    return Figure(
        f"{n} parallel answers to one challenge, {len(bases)} process(es)",
        tried=n,
        handled=(evaluated + refused) if ok else 0,
        lost=sum(s >= 500 for s in statuses) + (0 if ok else 1),
        detail={"200": evaluated, "409": statuses.count(409), "429": statuses.count(429), "recorded": len(recorded)},
    )


def crash_during_enrolment(workdir: Path, corpus: str, speaker: str, n: int = 60, kill_after: int = 15) -> Figure:
    """SIGKILL the server in the middle of a burst of enrolments, restart: every 2xx take is there, whole."""
    url = sqlite_url(workdir)
    env = server_env(workdir, url)
    statuses: dict[int, int] = {}
    created: dict[int, int] = {}
    with running(workdir, env) as server:
        auth = register(server.base, "crash@example.org", "crash")
        uid = user_id(server.base, auth)
        jobs = [(d, t) for t in range(0, 50) for d in range(10)][:n]
        for d, t in jobs:
            take(corpus, speaker, d, t)

        def post(i: int) -> None:
            d, t = jobs[i]
            try:
                r = httpx.post(
                    f"{server.base}/api/v1/enrolment/utterances",
                    json=enrol_body(corpus, speaker, d, t),
                    headers=auth,
                    timeout=120,
                )
                statuses[i] = r.status_code
                if r.status_code == 201:
                    created[i] = int(r.json()["utterance_id"])
            except httpx.TransportError:
                statuses[i] = -1  # the connection died with the server: outcome unknown to the client

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(post, i) for i in range(n)]
            while len(created) < kill_after and not all(f.done() for f in futures):
                time.sleep(0.01)
            server.kill()
            for f in futures:
                f.result()
    with running(workdir, env) as server:
        healthy = httpx.get(f"{server.base}/healthz", timeout=30).status_code == 200
        auth2 = {}
        with httpx.Client(base_url=server.base, timeout=60) as http:
            auth2 = login(http, "crash@example.org")
            listed = http.get("/api/v1/enrolment/utterances", headers=auth2).json()
    check = model_vs_rebuild(url, uid)
    present = set(check["ids"])
    missing = [i for i in created.values() if i not in present]
    listed_ids = {u["utterance_id"] for u in listed["utterances"]}
    lost = len(missing) + check["half_written"] + (0 if check["equal"] else 1) + (0 if healthy else 1)
    lost += len(listed_ids ^ present)
    return Figure(
        f"SIGKILL during a burst of {n} enrolments, restart",
        tried=len(created),
        handled=len(created) - len(missing),
        lost=lost,
        detail={
            "acknowledged_2xx": len(created),
            "connection_lost": sum(s == -1 for s in statuses.values()),
            "stored_after_restart": len(present),
            "half_written": check["half_written"],
            "model_equals_rebuild": check["equal"],
        },
    )


def brute_force(
    bases: list[str], database_url: str, corpus: str, owner: str, attacker: str, after: int, seconds: int
) -> Figure:
    """``after`` rejected answers lock the account on every process; the next is refused without scoring,
    for ``seconds`` (then twice that); an accept clears it. ``tried`` counts the refusals checked."""
    auth = register(bases[0], f"bf-{uuid.uuid4().hex[:8]}@example.org", f"bf-{uuid.uuid4().hex[:8]}")
    uid = user_id(bases[0], auth)
    enrol_ready(bases[0], auth, corpus, owner)
    fresh = iter(range(10, SPARE_TAKES.stop + 1))  # the owner's unseen takes
    # The attacker's answers are refused whatever they hold, so its takes may repeat; drawing them from the
    # owner's short supply ran it dry at five or more digits per challenge.
    attacker_takes = itertools.cycle(range(50))
    checks: list[bool] = []
    detail: dict[str, Any] = {}

    def fail_streak(k: int) -> dict[str, Any]:
        """k impostor answers (each a fresh take of another speaker), alternating processes."""
        spare = None
        for i in range(k):
            base = bases[i % len(bases)]
            ch = httpx.post(f"{base}/api/v1/challenges", headers=auth, timeout=120)
            assert ch.status_code == 201, ch.text
            if i == k - 1:  # a challenge fetched before the lock, answered after it
                spare = httpx.post(f"{bases[-1]}/api/v1/challenges", headers=auth, timeout=120).json()
            t = next(attacker_takes)
            # Another speaker saying other digits than prompted: certain to be rejected (content and voice).
            segs = [segment(corpus, attacker, (d + 1) % 10, t, prompted=d) for d in ch.json()["digits"]]
            out = httpx.post(
                f"{base}/api/v1/verifications",
                json={"challenge_id": ch.json()["challenge_id"], "segments": segs},
                headers=auth,
                timeout=120,
            )
            assert out.status_code == 200 and out.json()["decision"] == "reject", out.text
        assert spare is not None
        return spare

    for round_no, expected in enumerate((seconds, 2 * seconds)):
        spare = fail_streak(after)
        scored_before = len(attempts_for(database_url, uid))
        fps_before = count_rows(database_url, ReplayFingerprint, uid)
        locked_at = time.monotonic()
        for base in bases:  # every process refuses challenges and answers alike
            r = httpx.post(f"{base}/api/v1/challenges", headers=auth, timeout=60)
            checks.append(r.status_code == 429 and 0 < int(r.headers.get("Retry-After", "0")) <= expected)
            checks.append(r.headers.get("content-type", "").startswith("application/problem+json"))
            segs = [segment(corpus, attacker, (d + 1) % 10, next(attacker_takes), prompted=d) for d in spare["digits"]]
            r = httpx.post(
                f"{base}/api/v1/verifications",
                json={"challenge_id": spare["challenge_id"], "segments": segs},
                headers=auth,
                timeout=60,
            )
            checks.append(r.status_code == 429 and int(r.headers.get("Retry-After", "0")) > 0)
        checks.append(len(attempts_for(database_url, uid)) == scored_before)  # nothing scored
        checks.append(count_rows(database_url, ReplayFingerprint, uid) == fps_before)
        # Still locked just before the end, open again after it.
        time.sleep(max(0.0, expected - 1.2 - (time.monotonic() - locked_at)))
        checks.append(httpx.post(f"{bases[-1]}/api/v1/challenges", headers=auth, timeout=60).status_code == 429)
        time.sleep(max(0.0, expected + 0.3 - (time.monotonic() - locked_at)))
        r = httpx.post(f"{bases[0]}/api/v1/challenges", headers=auth, timeout=60)
        checks.append(r.status_code == 201)
        detail[f"lock_{round_no + 1}_seconds"] = expected
    # A genuine accept clears the streak and the backoff.
    ch = httpx.post(f"{bases[0]}/api/v1/challenges", headers=auth, timeout=60).json()
    segs = [segment(corpus, owner, d, next(fresh)) for d in ch["digits"]]
    out = httpx.post(
        f"{bases[0]}/api/v1/verifications",
        json={"challenge_id": ch["challenge_id"], "segments": segs},
        headers=auth,
        timeout=60,
    ).json()
    detail["genuine_after_lock"] = out["decision"]
    return Figure(
        f"brute force: lockout after {after} rejections, {len(bases)} process(es)",
        tried=len(checks),
        handled=sum(checks),
        lost=len(checks) - sum(checks),
        detail=detail,
    )


def replay_over_api(base: str, corpus: str, speaker: str, rounds: int) -> Figure:
    """Alternating fresh genuine answers (must not be flagged) with re-sent earlier answers and responses
    spliced from the user's stored enrolment takes (must be rejected as replays)."""
    auth = register(base, f"rp-{uuid.uuid4().hex[:8]}@example.org", f"rp-{uuid.uuid4().hex[:8]}")
    enrol_ready(base, auth, corpus, speaker)
    fresh = iter(range(6, SPARE_TAKES.stop + 1))
    history: dict[int, list[dict[str, Any]]] = {d: [] for d in range(10)}
    tried = handled = lost = 0
    counts = {"fresh": 0, "fresh_flagged": 0, "resent": 0, "resent_caught": 0, "spliced": 0, "spliced_caught": 0}
    rng = np.random.default_rng(0)
    with httpx.Client(base_url=base, timeout=120) as http:

        def answer(segs_for: Callable[[list[int]], list[dict[str, Any]]]) -> dict[str, Any]:
            ch = http.post("/api/v1/challenges", headers=auth)
            assert ch.status_code == 201, ch.text
            digits = ch.json()["digits"]
            r = http.post(
                "/api/v1/verifications",
                json={"challenge_id": ch.json()["challenge_id"], "segments": segs_for(digits)},
                headers=auth,
            )
            assert r.status_code == 200, r.text
            return dict(r.json())

        def fresh_segments(digits: list[int]) -> list[dict[str, Any]]:
            t = next(fresh)
            segs = [segment(corpus, speaker, d, t) for d in digits]
            for d, s in zip(digits, segs, strict=True):
                history[d].append(s)
            return segs

        for i in range(rounds):
            out = answer(fresh_segments)
            counts["fresh"] += 1
            counts["fresh_flagged"] += out["reason"] == "replay_suspected"
            tried += 1
            handled += not (out["reason"] == "replay_suspected")
            lost += out["reason"] == "replay_suspected"
            if i % 2 == 0:
                out = answer(
                    lambda digits: [
                        dict(history[d][int(rng.integers(len(history[d])))])
                        if history[d]
                        else segment(corpus, speaker, d, 0)
                        for d in digits
                    ]
                )
                kind = "resent"
            else:
                out = answer(lambda digits: [segment(corpus, speaker, d, int(rng.integers(6))) for d in digits])
                kind = "spliced"
            counts[kind] += 1
            caught = (out["reason"] == "replay_suspected") and out["decision"] == "reject"
            counts[f"{kind}_caught"] += caught
            tried += 1
            handled += caught
            lost += not caught
    return Figure("replay and splice over the API (fresh answers interleaved)", tried, handled, lost, counts)


def count_segments(database_url: str) -> int:
    db = Database(database_url)
    try:
        with db.read_session() as session:
            return len(session.scalars(select(Utterance.id)).all())
    finally:
        db.dispose()
