"""Relying-party flow over HTTP: FSDD speakers as one application's subjects, every result token checked.

    python benchmarks/rp_flow.py [--corpus ../shared/data/fsdd] [--genuine 10] [--impostor 10]

Starts `speakerverify serve` on a fresh SQLite data directory, creates an application with
`speakerverify apps create`, enrols every FSDD speaker as a subject through enrol sessions (takes 0-5 of
every digit), then answers verify sessions as the speaker (own takes 25+) and as impostors (other
speakers' takes). Every answer's result_token is verified with PyJWT against the JWKS (aud, iss, sub,
nonce, decision equal to the answer) and fetched once from the results route. Writes BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path, for support)
import httpx
import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.features import DEFAULT_CONFIG, extract, read_audio
from support.api_protocol import features_payload
from support.server import serve, speakerverify_command

ISSUER = "https://voice.example"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def _take(corpus: Path, speaker: str, digit: int, n: int) -> dict[str, Any]:
    mfcc, energy = extract(read_audio(corpus / "recordings" / f"{digit}_{speaker}_{n}.wav"))
    return {"config_id": DEFAULT_CONFIG.config_id, "digit": digit, **features_payload(mfcc, energy, "b64")}


class Flow:
    def __init__(self, base: str, creds: dict[str, Any], corpus: Path) -> None:
        self.http = httpx.Client(base_url=base, timeout=120)
        self.auth = (creds["client_id"], creds["client_secret"])
        self.client_id, self.corpus = creds["client_id"], corpus
        self.jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        self.session_ms: list[float] = []
        self.answer_ms: list[float] = []

    def session(self, subject: str, purpose: str, nonce: str) -> dict[str, str]:
        t0 = time.perf_counter()
        r = self.http.post(
            "/api/v1/rp/sessions", json={"subject": subject, "purpose": purpose, "nonce": nonce}, auth=self.auth
        )
        self.session_ms.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['session_token']}"}

    def enrol(self, speaker: str) -> int:
        auth, refused = self.session(speaker, "enrol", "enrol"), 0
        for digit in range(10):
            for n in range(6):
                r = self.http.post(
                    "/api/v1/enrolment/utterances", json=_take(self.corpus, speaker, digit, n), headers=auth
                )
                refused += r.status_code != 201
        return refused

    def verify(self, subject: str, speaker: str, take: int, nonce: str) -> tuple[str, bool]:
        """The decision, and whether its token verified with the right claims and was fetched exactly once."""
        auth = self.session(subject, "verify", nonce)
        ch = self.http.post("/api/v1/challenges", headers=auth).json()
        segs = [{**_take(self.corpus, speaker, d, take), "digit": d} for d in ch["digits"]]
        for s in segs:
            s.pop("config_id")
        t0 = time.perf_counter()
        r = self.http.post(
            "/api/v1/verifications", json={"challenge_id": ch["challenge_id"], "segments": segs}, headers=auth
        )
        self.answer_ms.append((time.perf_counter() - t0) * 1000)
        out = r.json()
        key = self.jwks.get_signing_key_from_jwt(out["result_token"]).key
        claims = jwt.decode(out["result_token"], key, algorithms=["ES256"], audience=self.client_id, issuer=ISSUER)
        ok = (claims["sub"], claims["nonce"], claims["decision"]) == (subject, nonce, out["decision"])
        first = self.http.get(f"/api/v1/rp/results/{claims['jti']}", auth=self.auth)
        again = self.http.get(f"/api/v1/rp/results/{claims['jti']}", auth=self.auth)
        ok = ok and first.status_code == 200 and again.status_code == 404 and "score" not in claims
        return out["decision"], ok


def run(corpus: Path, genuine: int, impostor: int) -> dict[str, Any]:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "SPEAKERVERIFY_DATA_DIR": tmp,
            "SPEAKERVERIFY_SECRET_KEY": "benchmark-secret-key-0123456789-abcdef",
            "SPEAKERVERIFY_PUBLIC_URL": ISSUER,
            "SPEAKERVERIFY_LOCKOUT_AFTER": "0",  # impostor answers in a row would lock the subject
            "SPEAKERVERIFY_CHALLENGES_PER_HOUR": "0",
        }
        with serve(Path(tmp), [], env) as base:
            cli = [
                *speakerverify_command(),
                "apps",
                "create",
                "--json",
                "--name",
                "bench",
                "--origin",
                "https://b.example",
            ]
            full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKERVERIFY_")} | env
            creds = json.loads(subprocess.run(cli, env=full_env, capture_output=True, text=True, check=True).stdout)
            flow = Flow(base, creds, corpus)
            refused = sum(flow.enrol(s) for s in SPEAKERS)
            counts = {"genuine": [0, 0], "impostor": [0, 0]}  # accepted, trials
            bad_tokens = 0
            for i, subject in enumerate(SPEAKERS):
                trials = [(subject, 25 + n, "genuine") for n in range(genuine)]
                others = [s for s in SPEAKERS if s != subject]
                trials += [(rng.choice(others), 25 + n, "impostor") for n in range(impostor)]
                for j, (speaker, take, kind) in enumerate(trials):
                    decision, ok = flow.verify(subject, speaker, take, f"n-{i}-{j}")
                    counts[kind][0] += decision == "accept"
                    counts[kind][1] += 1
                    bad_tokens += not ok
    return {
        "enrol_refused": refused,
        "genuine_accepted": counts["genuine"][0],
        "genuine_trials": counts["genuine"][1],
        "impostor_accepted": counts["impostor"][0],
        "impostor_trials": counts["impostor"][1],
        "tokens_failed": bad_tokens,
        "session_ms_median": statistics.median(flow.session_ms),
        "answer_ms_median": statistics.median(flow.answer_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--genuine", type=int, default=10)
    parser.add_argument("--impostor", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    t0 = time.perf_counter()
    s = run(Path(args.corpus), args.genuine, args.impostor)
    took = time.perf_counter() - t0
    print(json.dumps(s, indent=1))
    body = "\n".join(
        [
            "## Relying-party flow over HTTP (FSDD)",
            "",
            "`benchmarks/rp_flow.py`: one application (`speakerverify apps create`); the 6 FSDD speakers enrolled "
            "as its subjects through enrol sessions (takes 0-5 of every digit); per subject "
            f"{args.genuine} genuine and {args.impostor} impostor verify sessions (takes 25+, 5-digit challenges). "
            "Every result_token verified with PyJWT against `/.well-known/jwks.json` (aud, iss, sub, nonce, and "
            "the decision equal to the answer's) and fetched from `/api/v1/rp/results/{jti}` once (the second "
            f"fetch 404). Whole run {took:.0f} s on SQLite.",
            "",
            "| genuine accepted | impostors accepted | tokens failing a check | enrolment takes refused | "
            "session p50 ms | answer + signing p50 ms |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {s['genuine_accepted']} of {s['genuine_trials']} | "
            f"{s['impostor_accepted']} of {s['impostor_trials']} | "
            f"{s['tokens_failed']} | {s['enrol_refused']} of 360 | {s['session_ms_median']:.1f} | "
            f"{s['answer_ms_median']:.1f} |",
        ]
    )
    if not args.no_write:
        write_section("rp", "benchmarks/rp_flow.py", body)


if __name__ == "__main__":
    main()
