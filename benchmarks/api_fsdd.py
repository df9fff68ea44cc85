"""The FSDD protocol over the real HTTP API: FAR, FRR and EER at the deployment's own threshold.

    python benchmarks/api_fsdd.py [--corpus ../shared/data/fsdd] [--database-url URL]
        [--noise white|pink|babble|hum|fan|clatter|music --snr DB [--babble-corpus ../shared/data/speechocean762-8k]]
    python benchmarks/api_fsdd.py --noise-section   # the noise section again from the stored rows

Starts `speakerverify serve` on a fresh SQLite data directory (or the given database),
registers and enrols the corpus speakers through the API, answers challenges as
genuine users, impostors and wrong-digit speakers (tests/support/api_protocol.py),
and writes the numbers to BENCHMARKS.md. With ``--noise`` the noise is mixed into every answer's audio
before feature extraction (enrolment stays clean) and the run's row goes to the "Noise over HTTP" section.
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
from scipy.stats import binomtest

from speakerverify.config import SQLITE_FILE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from speakerverify.cli import _progress
from speakerverify.evaluation.noise import HELDOUT_KINDS, KINDS
from support import api_protocol
from support.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path("../shared/data/fsdd").resolve()))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--genuine", type=int, default=50)
    parser.add_argument("--impostor", type=int, default=250)
    parser.add_argument(
        "--noise", choices=KINDS + HELDOUT_KINDS, help="noise mixed into the answers' audio (held-out: report only)"
    )
    parser.add_argument("--snr", type=float, help="SNR in dB of --noise (required with it)")
    parser.add_argument("--babble-corpus", default=str(Path("../shared/data/speechocean762-8k").resolve()))
    parser.add_argument("--data-dir", type=Path, help="keep the service's data here (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--noise-section", action="store_true", help="only rewrite the noise section from results/api_noise.json"
    )
    args = parser.parse_args()
    if args.noise_section:
        _noise_section(json.loads(NOISE_ROWS.read_text()))
        return
    if (args.noise is None) != (args.snr is None):
        parser.error("--noise and --snr go together")
    if args.noise == "babble" and not any(Path(args.babble_corpus, "wav").glob("*.wav")):
        parser.error(f"babble needs speechocean762 WAV files under {Path(args.babble_corpus, 'wav')}")
    noise = None if args.noise is None else (args.noise, args.snr)

    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(args.data_dir) if args.data_dir else scratch
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
                http,
                args.corpus,
                genuine=args.genuine,
                impostor=args.impostor,
                progress=_progress,
                noise=noise,
                babble_root=args.babble_corpus,
                # the first threshold is computed in the background: waited for before the answers
                database_url=args.database_url or f"sqlite:///{Path(tmp) / SQLITE_FILE}",
            )
        took = time.perf_counter() - t0
    s = result.summary()
    print(json.dumps(s, indent=1))
    if noise is not None:
        _noise_row(noise, s, took, args.no_write)
        return
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


NOISE_ROWS = Path(__file__).resolve().parent / "results" / "api_noise.json"


def _noise_row(noise: tuple[str, float], s: dict, took: float, no_write: bool) -> None:
    """Keep this condition's row (in benchmarks/results/api_noise.json) and rewrite the section from all rows."""
    rows = json.loads(NOISE_ROWS.read_text()) if NOISE_ROWS.exists() else {}
    rows[f"{noise[0]} {noise[1]:g}"] = {**s, "seconds": round(took)}
    if no_write:
        return
    NOISE_ROWS.parent.mkdir(exist_ok=True)
    NOISE_ROWS.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    _noise_section(rows)


def _interval(percent: float, trials: int) -> str:
    """The Wilson 95% interval of a rate given in percent of ``trials``, in percent."""
    ci = binomtest(round(percent * trials / 100), trials).proportion_ci(method="wilson")
    return f"{100 * ci.low:.1f}-{100 * ci.high:.1f}"


def _noise_section(rows: dict) -> None:
    lines = [
        "## Noise over HTTP (FSDD)",
        "",
        "`benchmarks/api_fsdd.py --noise KIND --snr DB`: as the section above (clean enrolment through the API, "
        "5-digit answers, deployment calibration), with the noise mixed into every answer's audio before "
        "feature extraction (`evaluation/noise.py`); `too_noisy` counts as a rejection. The FRR interval is "
        "the binomial (Wilson) 95% interval of the row's answers taken as independent; they are not (six "
        "speakers, the server's random prompts), and identical runs have differed by more (BENCHMARKS.md "
        '"Noise: babble copies (reading)").',
        "",
        "| noise | trials (target / impostor) | FAR % | FRR % | FRR 95% interval | too_noisy (all answers) | run s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in sorted(rows.items(), key=lambda kv: (kv[0].split()[0], -float(kv[0].split()[1]))):
        lines.append(
            f"| {name} dB | {r['target_trials']} / {r['impostor_trials']} | {r['far_percent']:.2f} | "
            f"{r['frr_percent']:.2f} | {_interval(r['frr_percent'], r['target_trials'])} | "
            f"{r['reasons'].get('too_noisy', 0)} | {r['seconds']} |"
        )
    write_section("api-noise", "benchmarks/api_fsdd.py --noise", "\n".join(lines))


if __name__ == "__main__":
    main()
