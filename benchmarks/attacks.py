"""The red-team run of issue 13 against a real `speakerverify serve` (SQLite), over HTTP; writes SECURITY.md.

    python benchmarks/attacks.py [--corpus ../shared/data/fsdd] [--answers 6] [--no-write]

Six FSDD speakers enrol takes 0-5 through the API. The attacker holds each victim's password (a session
token) and the victim's enrolment takes (what an export would give), and sends:
crafted takes and answers (no victim audio); perturbed copies of the victim's takes (feature noise, trims,
dropped and duplicated frames, time stretch, splices, the audio re-framed by a sample offset); and
sybil accounts that try to poison the calibration (a copy of an existing user's voice, crafted takes, two
accounts holding the same recordings). An attack succeeds only with an ``accept``. Lockout and the
registration and challenge limits are off, so every attempt is decided on its merits (the lockout would
stop them much sooner). "Refused" counts 4xx refusals (not speech: never scored) and rejects alike. A
victim's enrolment take the content check refuses is said again (takes 24, 23, 22). Every answer is decided
at the deployment's own calibration: the run waits for the background's recalibration after the victims
enrol and again after the sybils join (until 2026-12-03 it did not, and counted the sybils' set-asides
before they were computed).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine
from sqlalchemy import select

from speakerverify.config import VoicePolicy
from speakerverify.features import extract, read_audio
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Calibration, DeploymentThreshold, VerificationAttempt, utcnow
from support import crafted
from support.api_protocol import ApiClient
from support.server import serve

REPO = Path(__file__).resolve().parents[1]
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
Frames = tuple[np.ndarray, np.ndarray]
Build = Callable[[str, int, int, np.random.Generator], Frames]  # (speaker, digit, answer no., rng) -> frames


@dataclass
class Row:
    attack: str
    tried: int = 0
    refused: int = 0
    accepted: int = 0
    notes: list[str] = field(default_factory=list)


SPARE_TAKES = (24, 23, 22)  # a victim's takes said again when the content check refuses one (unused else)


class Lab:
    """The running server, the victims' sessions and the corpus."""

    def __init__(self, http: httpx.Client, corpus: Path, db: Database) -> None:
        self.api, self.corpus, self.db = ApiClient(http, "b64"), corpus, db
        self.http = http
        self.auth: dict[str, dict[str, str]] = {}
        self._cache: dict[tuple[str, int, int, int], Frames] = {}

    def audio(self, speaker: str, digit: int, take: int) -> np.ndarray:
        return read_audio(self.corpus / "recordings" / f"{digit}_{speaker}_{take}.wav")

    def take(self, speaker: str, digit: int, take: int, shift: int = 0) -> Frames:
        key = (speaker, digit, take, shift)
        if key not in self._cache:
            self._cache[key] = extract(self.audio(speaker, digit, take)[shift:])
        return self._cache[key]

    def enrol(
        self,
        email: str,
        alias: str,
        takes: Callable[[int, int], Frames],
        n: int = 6,
        again: Callable[[int, int], Frames] | None = None,
    ) -> tuple[int, int]:
        """Register and enrol n takes of every digit; (stored, refused). ``again(digit, k)``: the k-th spare
        take said again in place of one the content check refused (as a user would; up to 3)."""
        auth = self.api.register_and_login(email, alias)
        self.auth[alias] = auth
        stored = refused = 0
        for i in range(n):
            for d in range(10):
                r = self.api.enrol(auth, d, *takes(d, i))
                for k in range(3):
                    if again is None or r.status_code != 422 or r.json().get("reason") != "wrong_digit":
                        break
                    refused += 1
                    r = self.api.enrol(auth, d, *again(d, k))
                stored, refused = stored + (r.status_code == 201), refused + (r.status_code != 201)
        return stored, refused

    def answer(self, victim: str, build: Build, j: int, rng: np.random.Generator) -> str:
        """Answer number ``j`` as ``victim``'s session: 'accept', 'reject' or the refusal's status."""
        auth = self.auth[victim]
        ch = self.api.challenge(auth)
        segs = [self.api.segment(d, *build(victim, d, j, rng)) for d in ch["digits"]]
        r = self.http.post(
            "/api/v1/verifications", json={"challenge_id": ch["challenge_id"], "segments": segs}, headers=auth
        )
        return str(r.json()["decision"]) if r.status_code == 200 else str(r.status_code)

    def settle(self, timeout: float = 900.0) -> float:
        """Until the server has recalibrated for the users registered so far: every victim asks for a
        challenge (a stale calibration is queued for the background and serves meanwhile), then wait until
        the deployment threshold and every stored calibration were computed after that. Answers decided
        before would be held to the old calibrations, so the sybils would not have been tried. Seconds."""
        since = utcnow()
        for victim in SPEAKERS:
            self.api.challenge(self.auth[victim])
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.db.read_session() as s:
                threshold = s.get(DeploymentThreshold, VoicePolicy.challenge_digits)
                times = [r.computed_at for r in s.scalars(select(Calibration))]
            if threshold is not None and threshold.computed_at > since and times and min(times) > since:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise TimeoutError(f"the server did not recalibrate in {timeout:.0f} s")

    def replay_flags(self) -> tuple[int, int]:
        with self.db.read_session() as s:
            flags = [f for a in s.scalars(select(VerificationAttempt)) for f in (a.detail or {}).get("replay", [])]
        return int(sum(flags)), len(flags)


def _run(lab: Lab, name: str, build: Build, answers: int, seed: int) -> Row:
    row, rng = Row(name), np.random.default_rng(seed)
    before = lab.replay_flags()
    outcomes = [lab.answer(SPEAKERS[j % len(SPEAKERS)], build, j, rng) for j in range(answers)]
    unexpected = [o for o in outcomes if o not in ("accept", "reject", "422")]
    if unexpected:
        raise RuntimeError(f"{name}: unexpected answers {unexpected}")
    row.tried, row.accepted = len(outcomes), outcomes.count("accept")
    row.refused = row.tried - row.accepted
    after = lab.replay_flags()
    flagged, scored = after[0] - before[0], after[1] - before[1]
    if outcomes.count("422"):
        row.notes.append(f"{outcomes.count('422')} refused as not speech")
    row.notes.append(f"{flagged} of {scored} scored segments flagged as replays")
    return row


def _noise(scale: float, gain: float = 1.0) -> Build:
    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        m, e = lab_take(spk, d, j % 6)
        return m + rng.normal(size=m.shape) * scale * m.std(axis=0), e * gain

    return build


def _edit(kind: str) -> Build:
    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        m, e = lab_take(spk, d, j % 6)
        n = len(m)
        if kind == "trim":
            a, b = rng.integers(2, 6, 2)
            keep = np.arange(a, n - b)
        elif kind == "drop":
            keep = np.sort(rng.choice(n, int(n * 0.9), replace=False))
        elif kind == "duplicate":
            keep = np.sort(np.concatenate([np.arange(n), rng.choice(n, n // 10, replace=False)]))
        else:  # stretch by frame interpolation
            factor = rng.uniform(0.8, 1.25)
            t = np.linspace(0, n - 1, max(10, round(n * factor)))
            lo = np.floor(t).astype(int)
            hi, w = np.minimum(lo + 1, n - 1), (t - np.floor(t))[:, None]
            return (1 - w) * m[lo] + w * m[hi], (1 - w[:, 0]) * e[lo] + w[:, 0] * e[hi]
        return m[keep], e[keep]

    return build


def _splice(parts: int) -> Build:
    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        pieces = [lab_take(spk, d, (j + k) % 6) for k in range(parts)]
        cut = [(len(m) * k // parts, len(m) * (k + 1) // parts) for k, (m, _) in enumerate(pieces)]
        return (
            np.vstack([m[a:b] for (m, _), (a, b) in zip(pieces, cut, strict=True)]),
            np.concatenate([e[a:b] for (_, e), (a, b) in zip(pieces, cut, strict=True)]),
        )

    return build


def _reframed(noise: float) -> Build:
    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        m, e = LAB.take(spk, d, j % 6, shift=int(rng.integers(1, 80)))
        return m + rng.normal(size=m.shape) * noise * m.std(axis=0), e

    return build


def _crafted(kind: str) -> Build:
    ubm = load_default_ubm().gmm
    builders = crafted.attack_builders(ubm.means, ubm.weights)

    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        return builders[kind](LAB.take("george" if spk != "george" else "lucas", d, 40), rng, None)

    return build


LAB: Lab


def lab_take(spk: str, d: int, take: int) -> Frames:
    return LAB.take(spk, d, take)


def _genuine(first_take: int) -> Build:
    """Fresh takes: answer j of a speaker uses take first_take + j // 6, never one used before."""
    return lambda spk, d, j, rng: LAB.take(spk, d, first_take + j // len(SPEAKERS))


def _impostor(first_take: int) -> Build:
    def build(spk: str, d: int, j: int, rng: np.random.Generator) -> Frames:
        other = SPEAKERS[(SPEAKERS.index(spk) + 1 + int(rng.integers(0, 5))) % len(SPEAKERS)]
        return LAB.take(other, d, first_take + j // len(SPEAKERS))  # never the same take twice per victim

    return build


def crafted_takes(lab: Lab) -> Row:
    row = Row("crafted enrolment takes (ramps, constants, extreme, null, Gaussian, shuffled, UBM means)")
    ubm = load_default_ubm().gmm
    builders = crafted.attack_builders(ubm.means, ubm.weights)
    rng = np.random.default_rng(5)
    auth = lab.api.register_and_login("crafter@example.org", "crafter")
    for kind in ("ramp", "constant", "extreme", "null", "gaussian", "shuffled", "ubm_means"):
        for d in range(10):
            r = lab.api.enrol(auth, d, *builders[kind](lab.take("lucas", d, 45), rng, None))
            row.tried, row.refused = row.tried + 1, row.refused + (r.status_code != 201)
            row.accepted += r.status_code == 201
    row.notes.append("accepted = stored")
    return row


def poisoning(lab: Lab, answers: int) -> list[Row]:
    """Genuine acceptance (fresh takes) and FAR before and after the sybils join."""
    n = 6 * len(SPEAKERS)
    rows = [_run(lab, f"genuine answers before the sybils (takes 25-30), {n}", _genuine(25), n, 11)]
    rows.append(
        _run(lab, f"impostor answers before the sybils (other speakers' takes 37-42), {n}", _impostor(37), n, 12)
    )
    stored, _ = lab.enrol("copy@example.org", "copy-george", lambda d, i: lab.take("george", d, 6 + i))
    rows[-1].notes.append(f"sybil 1 enrolled george's other takes 6-11 ({stored} stored)")
    stored, refused = lab.enrol(
        "craft2@example.org", "crafted2", lambda d, i: _crafted("gaussian")("x", d, i, np.random.default_rng(i))
    )
    rows[-1].notes.append(f"sybil 2 sent crafted takes ({stored} stored, {refused} refused)")
    for k in (1, 2):
        lab.enrol(f"same{k}@example.org", f"same-{k}", lambda d, i: lab.take("jackson", d, 12 + i))
    rows[-1].notes.append("sybils 3 and 4 both enrolled jackson's takes 12-17")
    rows[-1].notes.append(f"recalibrated with the sybils in {lab.settle():.0f} s")
    rows.append(_run(lab, f"genuine answers after the sybils (takes 31-36), {n}", _genuine(31), n, 13))
    rows.append(_run(lab, f"impostor answers after the sybils (takes 43-48), {n}", _impostor(43), n, 14))
    with lab.db.read_session() as s:
        set_aside = {str(r.user_id): len(r.set_aside) for r in s.scalars(select(Calibration)) if r.set_aside}
    rows[-1].notes.append(
        f"{len(set_aside)} users' calibrations set aside near-duplicates ({sum(set_aside.values())} in all)"
    )
    return rows


def main() -> None:
    global LAB
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "fsdd")
    ap.add_argument("--answers", type=int, default=12, help="answers per perturbation attack")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="attacks-") as tmp:
        env = {
            "SPEAKERVERIFY_DATA_DIR": tmp,
            "SPEAKERVERIFY_SECRET_KEY": "attack-benchmark-secret-0123456789-abcdef",
            "SPEAKERVERIFY_LOCKOUT_AFTER": "0",
            "SPEAKERVERIFY_REGISTER_MAX_PER_ADDRESS": "0",
            "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",
        }
        db = Database(f"sqlite:///{tmp}/speakerverify.sqlite3")
        with serve(Path(tmp), [], env) as base, httpx.Client(base_url=base, timeout=120) as http:
            LAB = Lab(http, args.corpus, db)
            for spk in tqdm(SPEAKERS, desc="enrolling victims", file=sys.stderr):
                LAB.enrol(
                    f"{spk}@example.org",
                    spk,
                    lambda d, i, spk=spk: LAB.take(spk, d, i),
                    again=lambda d, k, spk=spk: LAB.take(spk, d, SPARE_TAKES[k]),
                )
            print(f"deployment calibrated in {LAB.settle():.0f} s", file=sys.stderr)
            rows = _attacks(LAB, args.answers)
        db.dispose()
    text = render(rows)
    print(text)
    if not args.no_write:
        write_security_section(REPO / "SECURITY.md", text)


def _attacks(lab: Lab, answers: int) -> list[Row]:
    attacks: list[tuple[str, Build]] = [
        *((f"crafted answers: {k}", _crafted(k)) for k in ("ramp", "constant", "extreme", "null", "ubm_means")),
        *((f"victim's takes + noise {s} x std", _noise(s)) for s in (0.1, 0.3, 0.5, 0.75)),
        *((f"victim's takes + noise {s} x std, energy x 30", _noise(s, 30.0)) for s in (0.3, 0.75)),
        ("victim's takes trimmed 2-5 frames at each end", _edit("trim")),
        ("victim's takes with 10% of frames dropped", _edit("drop")),
        ("victim's takes with 10% of frames duplicated", _edit("duplicate")),
        ("victim's takes time-stretched 0.8-1.25 (frames)", _edit("stretch")),
        ("splices of 2 of the victim's takes per segment", _splice(2)),
        ("splices of 3 of the victim's takes per segment", _splice(3)),
        ("victim's audio re-framed by 1-79 samples", _reframed(0.0)),
        ("victim's audio re-framed by 1-79 samples + noise 0.3 x std", _reframed(0.3)),
    ]
    rows = [crafted_takes(lab)]
    for seed, (name, build) in enumerate(tqdm(attacks, desc="attacks", file=sys.stderr)):
        rows.append(_run(lab, name, build, answers, seed))
    rows += poisoning(lab, answers)
    return rows


def render(rows: list[Row]) -> str:
    lines = [
        "## Attacks over HTTP",
        "",
        f"_Written by `benchmarks/attacks.py`; machine: {machine()}._",
        "",
        __doc__.split("\n\n", 2)[2].strip().replace("\n", " "),
        "",
        "| attack | N tried | N refused | N accepted | notes |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {r.attack} | {r.tried} | {r.refused} | {r.accepted} | {'; '.join(r.notes)} |" for r in rows]
    return "\n".join(lines) + "\n"


def write_security_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Security\n"
    pattern = re.compile(r"^## Attacks over HTTP.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old, count=1) if pattern.search(old) else old.rstrip() + "\n\n" + text
    path.write_text(new)


if __name__ == "__main__":
    main()
