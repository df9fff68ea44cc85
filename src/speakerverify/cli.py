"""The ``speakerverify`` command: thin wrappers over the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import __version__


def int_in(low: int, high: int | None = None) -> Any:
    """An argparse ``type``: an integer in ``low..high``, refused while parsing (before any work starts)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"{value} is not in {low}..{high}" if high is not None else f"{value} is below {low}"
            )
        return value

    return parse


def new_file(text: str) -> Path:
    """An argparse ``type``: a file to write, whose folder must exist now, not after the run."""
    path = Path(text)
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder}: no such folder")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file name")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"{folder}: not writable")
    return path


def image_file(text: str) -> Path:
    """``new_file`` for a plot, in a format the plotting library writes (chosen by the suffix)."""
    path = new_file(text)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise argparse.ArgumentTypeError(f"{path}: name a .png, .svg or .pdf file")
    return path


def _progress(it: Iterable[Any], desc: str, total: int) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(it, desc=desc, total=total, unit="utt", file=sys.stderr)


def cmd_features(args: argparse.Namespace) -> int:
    from .features import DEFAULT_CONFIG, AudioError, extract, read_audio

    try:
        mfcc, energy = extract(read_audio(args.file))
    except AudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    payload = {"config_id": DEFAULT_CONFIG.config_id, "mfcc": mfcc.tolist(), "energy": energy.tolist()}
    if args.json:
        json.dump(payload, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{args.file}: {len(energy)} frames of {DEFAULT_CONFIG.config_id} (use --json for the values)")
    return 0


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """Markdown table of evaluation records (rates in percent)."""
    lines = [
        "| system | condition | K | EER % | minDCF (0.01) | FRR @ FAR 1% | target | impostor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['system']} | {r['condition']} | {r['k']} | {r['eer']:.2f} | {r['min_dcf']:.3f} | "
            f"{r['frr_at_far1']:.2f} | {r['n_target']} | {r['n_impostor']} |"
        )
    return "\n".join(lines)


def format_speaker_table(rows: Sequence[dict[str, Any]], k: int, condition: str) -> str:
    systems = sorted({r["system"] for r in rows})
    speakers = sorted({r["speaker"] for r in rows})
    cell = {(r["system"], r["speaker"]): r["eer"] for r in rows if r["k"] == k and r["condition"] == condition}
    lines = ["| speaker | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
    for spk in speakers:
        lines.append(f"| {spk} | " + " | ".join(f"{cell[(sy, spk)]:.2f}" for sy in systems) + " |")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.metrics import plot_det
    from .evaluation.runner import SYSTEMS, check_conditions, evaluate
    from .models.ubm import load_default_ubm

    if not Path(args.corpus).is_dir():
        print(f"error: {args.corpus}: no such corpus folder", file=sys.stderr)
        return 2
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown:
        print(f"error: unknown systems {sorted(unknown)}; choose from {list(SYSTEMS)}", file=sys.stderr)
        return 2
    try:
        check_conditions(args.conditions, args.babble_corpus)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ubm = load_default_ubm()
    try:
        result = evaluate(
            args.corpus,
            ubm,
            ks=args.k,
            trials_per_speaker=args.trials,
            seed=args.seed,
            conditions=args.conditions,
            systems=args.systems,
            progress=_progress,
            babble_root=args.babble_corpus,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"UBM: {ubm.ubm_id}\n")
    print(format_table(result.records))
    for cond in args.conditions:
        k = 3 if 3 in args.k else args.k[0]
        print(f"\nPer-speaker EER %, K = {k}, {cond}:\n")
        print(format_speaker_table(result.per_speaker, k, cond))
    if args.json:
        Path(args.json).write_text(json.dumps(result.records, indent=1) + "\n")
    if args.det:
        k = 3 if 3 in args.k else args.k[0]
        curves = {f"{sy} {c}": result.scores[(sy, c, k)] for sy in args.systems for c in args.conditions}
        plot_det(curves, args.det, title=f"FSDD, {k}-digit trials")
    return 0


def _service_settings(args: argparse.Namespace, create: bool = True) -> Any:
    """Settings from the environment with CLI overrides, or None after printing why not.

    ``create=False`` for the operator commands: a data directory without a database is refused by
    path instead of becoming a new, empty deployment."""
    from .config import SettingsError, settings_from_env

    try:
        return settings_from_env(database_url=args.database_url, create=create)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _migrate(database_url: str) -> str | None:
    from .storage import migrate
    from .storage.db import Database, safe_url

    db = Database(database_url)
    try:
        revision = migrate.upgrade(db)
    finally:
        db.dispose()
    print(f"database {safe_url(database_url)} at schema revision {revision}", file=sys.stderr)
    return revision


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from .http.server import uvicorn_options
    from .storage.db import sqlite_path_hint

    settings = _service_settings(args)
    if settings is None:
        return 2
    try:
        _migrate(settings.database_url)
    except Exception as exc:  # unreachable server, bad URL, permissions: say so, no traceback
        print(f"error: cannot prepare the database: {exc}{sqlite_path_hint(settings.database_url)}", file=sys.stderr)
        return 2
    # Worker processes rebuild their settings from the environment: hand them what the CLI resolved
    # (the secret stays in the environment or the data directory's file, where it already is).
    os.environ["SPEAKERVERIFY_DATA_DIR"] = str(settings.data_dir)
    os.environ["SPEAKERVERIFY_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "speakerverify.http.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **uvicorn_options(settings.server),
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from .storage.db import sqlite_path_hint

    settings = _service_settings(args)
    if settings is None:
        return 2
    try:
        _migrate(settings.database_url)
    except Exception as exc:
        print(f"error: cannot upgrade the database: {exc}{sqlite_path_hint(settings.database_url)}", file=sys.stderr)
        return 2
    return 0


# ---- operator commands (speakerverify.operator); OperatorError -> exit status 2 -------------------


def _operator(run: Any, creates: bool = False) -> Any:
    """Wrap an operator command: settings resolved as for `serve`, clear errors, exit status 2.

    Only commands that build a deployment (``creates``) may start a new data directory."""

    def wrapped(args: argparse.Namespace) -> int:
        from .operator.common import OperatorError

        settings = _service_settings(args, create=creates)
        if settings is None:
            return 2
        try:
            return int(run(args, settings) or 0)
        except OperatorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return wrapped


def cmd_users_list(args: argparse.Namespace, settings: Any) -> int:
    from .operator import users

    rows = users.user_rows(settings, include_email=args.include_email)
    sys.stdout.write(users.format_users(rows, as_csv=args.csv, include_email=args.include_email))
    return 0


def cmd_users_set_password(args: argparse.Namespace, settings: Any) -> int:
    from .operator import users

    password, generated = users.read_new_password(args.generate)
    user = users.set_password(settings, args.email, password)
    if generated:
        print(f"{user.email}\t{password}")
    print(f"password set for {user.email} ({user.alias}); hand it over privately", file=sys.stderr)
    return 0


def cmd_users_unlock(args: argparse.Namespace, settings: Any) -> int:
    from .operator import users

    user, counters = users.unlock(settings, args.email)
    print(f"unlocked {user.email} ({user.alias}): verification lockout cleared, {counters} login counters removed")
    return 0


def cmd_cohort_report(args: argparse.Namespace, settings: Any) -> int:
    from .operator import cohort

    sys.stdout.write(cohort.format_set_aside(cohort.set_aside_rows(settings)))
    return 0


def cmd_eer(args: argparse.Namespace, settings: Any) -> int:
    from .evaluation.metrics import plot_det
    from .operator import eer

    report = eer.eer_report(settings, k=args.digits, seed=args.seed, trials=args.trials)
    sys.stdout.write(eer.format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if args.det:
        import numpy as np

        target = np.array([t["score"] for t in report["trials"] if t["kind"] == "target"])
        impostor = np.array([t["score"] for t in report["trials"] if t["kind"] == "impostor"])
        plot_det({"deployment": (target, impostor)}, args.det, title=f"{report['k']}-digit trials, live database")
    return 0


def cmd_sample_db(args: argparse.Namespace, settings: Any) -> int:
    from .operator import sample_db

    created = sample_db.build_sample_db(settings, Path(args.corpus), args.speakers)
    print("email,alias,password,enrolled,ready")
    for u in created:
        print(f"{u.email},{u.alias},{u.password},{u.enrolled},{'yes' if u.ready else 'no'}")
        for reason in u.rejected:
            print(f"note: {u.alias}: take rejected: {reason}", file=sys.stderr)
    return 0


def cmd_import_original(args: argparse.Namespace, settings: Any) -> int:
    from .operator import import_original

    s = import_original.import_original(settings, Path(args.file))
    for reason in s.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(
        f"{s.documents} documents: {s.users_created} accounts created, {s.users_existing} already present; "
        f"{s.takes_added} log entries added, {s.takes_present} already present, {len(s.skipped)} skipped. "
        "Imported accounts have no password: `speakerverify users set-password EMAIL`."
    )
    return 0


def cmd_ubm_train(args: argparse.Namespace, settings: Any) -> int:
    from .operator import ubm_admin

    corpus = Path(args.corpus) if args.corpus else None
    ubm = ubm_admin.train(settings, corpus, args.from_database, args.components, args.seed)
    print(ubm.ubm_id)
    print(
        f"stored and staged UBM {ubm.ubm_id} ({ubm.meta['n_frames']} frames, {ubm.meta['n_speakers']} speakers); "
        "run `speakerverify models rebuild` to switch to it",
        file=sys.stderr,
    )
    return 0


def cmd_ubm_list(args: argparse.Namespace, settings: Any) -> int:
    from .operator import ubm_admin

    rows = ubm_admin.list_ubms(settings)
    print("ubm_id\tcomponents\tcreated_at\tmodels\tstate\tsource")
    for row in rows:
        print(
            f"{row['ubm_id']}\t{row['components']}\t{row['created_at']}\t{row['models']} models\t"
            f"{row['state']}\t{row['source']}"
        )
    return 0


def cmd_models_rebuild(args: argparse.Namespace, settings: Any) -> int:
    from .operator import ubm_admin

    ubm_id, n = ubm_admin.rebuild(settings, args.ubm)
    print(
        f"{n} speaker models moved to {ubm_id}, now the active UBM (each is derived from its takes against it at "
        "its next use); restart the service processes"
    )
    if settings.ubm_file is not None:
        print(f"warning: SPEAKERVERIFY_UBM_FILE ({settings.ubm_file}) overrides the active UBM", file=sys.stderr)
    return 0


def cmd_db_backup(args: argparse.Namespace, settings: Any) -> int:
    from .operator import backup

    pages = backup.backup(settings, Path(args.file))
    print(f"backed up {pages} pages to {args.file}")
    return 0


def cmd_attempts_list(args: argparse.Namespace, settings: Any) -> int:
    from .operator import audit

    sys.stdout.write(audit.format_attempts(audit.attempt_rows(settings, args.email, args.limit), args.json))
    return 0


def cmd_analysis(args: argparse.Namespace, settings: Any) -> int:
    from .operator import audit

    sys.stdout.write(audit.format_analysis(audit.analysis_report(settings, args.email), args.json))
    return 0


def add_audit_commands(sub: Any, with_db: Any) -> None:
    """The scores users are not shown: the attempt audit log and the full per-speaker analysis."""
    p = sub.add_parser("attempts", help="verification attempts with their scores (the audit log)")
    attempts_sub = p.add_subparsers(dest="attempts_command", required=True)
    p = attempts_sub.add_parser("list", help="newest first: time, alias, decision, reason, score, threshold")
    p.add_argument("--email", help="only this account's attempts")
    p.add_argument("--limit", type=int_in(1), default=100)
    p.add_argument("--json", action="store_true", help="JSON, with each attempt's per-digit detail")
    with_db(p, cmd_attempts_list)
    p = sub.add_parser("analysis", help="an account's intrusion test and benchmark, per speaker with scores")
    p.add_argument("email")
    p.add_argument("--json", action="store_true")
    with_db(p, cmd_analysis)


def _add_users_commands(sub: Any, with_db: Any) -> None:
    p = sub.add_parser("users", help="list accounts, set a password, lift a lock")
    users_sub = p.add_subparsers(dest="users_command", required=True)
    p = users_sub.add_parser("list", help="alias, demographic, takes per digit, ready, accepts/rejects, last activity")
    p.add_argument("--csv", action="store_true", help="CSV instead of a table")
    p.add_argument("--include-email", action="store_true", help="also show email addresses")
    with_db(p, cmd_users_list)
    p = users_sub.add_parser(
        "set-password", help="set an account's password (read from stdin or the terminal); e.g. imported accounts"
    )
    p.add_argument("email")
    p.add_argument("--generate", action="store_true", help="generate a random password and print it")
    with_db(p, cmd_users_set_password)
    p = users_sub.add_parser("unlock", help="lift an account's verification lockout and login throttles")
    p.add_argument("email")
    with_db(p, cmd_users_unlock)


def cmd_apps_create(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    sys.stdout.write(apps.format_credentials(apps.create(settings, args.name, args.origin), args.json))
    return 0


def cmd_apps_list(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    sys.stdout.write(apps.format_rows(apps.list_apps(settings), ["client_id", "name", "origins"], args.json))
    return 0


def cmd_apps_rotate_secret(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    sys.stdout.write(apps.format_credentials(apps.rotate_secret(settings, args.client_id), args.json))
    return 0


def cmd_apps_delete(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    apps.delete(settings, args.client_id)
    print(f"deleted {args.client_id} with its subjects and all their voice data")
    return 0


def cmd_apps_stats(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    sys.stdout.write(apps.format_rows(apps.stats(settings), apps.STATS_COLUMNS, args.json))
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Any) -> int:
    from .operator import apps

    kid, retired = apps.rotate_key(settings)
    ttl = settings.relying_parties.result_ttl_seconds
    print(f"results are now signed with {kid}; {retired} older key(s) leave the JWKS in {ttl} s")
    return 0


def add_rp_commands(sub: Any, with_db: Any) -> None:
    """Relying-party applications (`apps`) and the result-signing keys (`keys`)."""
    p = sub.add_parser("apps", help="applications using speakerverify as a second factor")
    apps_sub = p.add_subparsers(dest="apps_command", required=True)
    p = apps_sub.add_parser("create", help="a new application; prints its client_id and client_secret once")
    p.add_argument("--name", required=True)
    p.add_argument("--origin", action="append", required=True, help="an allowed browser origin (repeatable)")
    p.add_argument("--json", action="store_true")
    with_db(p, cmd_apps_create)
    p = apps_sub.add_parser("list", help="client_id, name, origins")
    p.add_argument("--json", action="store_true")
    with_db(p, cmd_apps_list)
    p = apps_sub.add_parser("rotate-secret", help="a new client_secret (printed once); the old one stops working")
    p.add_argument("client_id")
    p.add_argument("--json", action="store_true")
    with_db(p, cmd_apps_rotate_secret)
    p = apps_sub.add_parser("delete", help="delete an application, its subjects and their voice data")
    p.add_argument("client_id")
    with_db(p, cmd_apps_delete)
    p = apps_sub.add_parser("stats", help="per application: subjects, sessions, accepts, rejects, locks")
    p.add_argument("--json", action="store_true")
    with_db(p, cmd_apps_stats)
    p = sub.add_parser("keys", help="the keys signed results are signed with")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    p = keys_sub.add_parser("rotate", help="sign with a new key; the old one is retired after a result's lifetime")
    with_db(p, cmd_keys_rotate)


def add_operator_commands(sub: Any, db_sub: Any, db_help: str) -> None:
    def with_db(p: argparse.ArgumentParser, run: Any, creates: bool = False) -> None:
        p.add_argument("--database-url", help=db_help)
        p.set_defaults(func=_operator(run, creates))

    p = db_sub.add_parser("backup", help="consistent online copy of a SQLite database (PostgreSQL: use pg_dump)")
    p.add_argument("file", help="the new file to write (must not exist)")
    with_db(p, cmd_db_backup)

    add_audit_commands(sub, with_db)

    _add_users_commands(sub, with_db)
    add_rp_commands(sub, with_db)

    p = sub.add_parser("cohort", help="calibration cohorts")
    cohort_sub = p.add_subparsers(dest="cohort_command", required=True)
    p = cohort_sub.add_parser("report", help="cohort users set aside as near-duplicates of the user calibrated")
    with_db(p, cmd_cohort_report)

    p = sub.add_parser("eer", help="EER / FRR / minDCF / deployment FAR-FRR report over the live database")
    p.add_argument("--digits", type=int_in(1, 10), help="digits per trial (default: the deployment's challenge length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trials", type=int_in(1), default=50, help="genuine trials per user (default 50)")
    p.add_argument("--det", metavar="FILE.png", type=image_file, help="write the DET curve")
    p.add_argument("--json", metavar="FILE", type=new_file, help="write the report with every trial's score as JSON")
    with_db(p, cmd_eer)

    p = sub.add_parser("sample-db", help="register and enrol every speaker of an FSDD-style corpus")
    p.add_argument("--corpus", required=True, help="folder of {digit}_{speaker}_{take}.wav files")
    p.add_argument("--speakers", type=int_in(1), help="only the first N speakers (by name)")
    with_db(p, cmd_sample_db, creates=True)

    p = sub.add_parser("import-original", help="import the 2020 demo's userdata (mongoexport JSON or mongodump BSON)")
    p.add_argument("file")
    with_db(p, cmd_import_original, creates=True)

    p = sub.add_parser("ubm", help="background models: train, list")
    ubm_sub = p.add_subparsers(dest="ubm_command", required=True)
    p = ubm_sub.add_parser("train", help="train and stage a new UBM (switch with `models rebuild`)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="a folder of .wav/.flac files")
    source.add_argument("--from-database", action="store_true", help="the takes of users who consented to it")
    p.add_argument("--components", type=int, default=256, help="a power of two (default 256)")
    p.add_argument("--seed", type=int, default=0)
    with_db(p, cmd_ubm_train)
    p = ubm_sub.add_parser("list", help="stored UBMs, the active and the staged one")
    with_db(p, cmd_ubm_list)

    p = sub.add_parser("models", help="speaker models")
    models_sub = p.add_subparsers(dest="models_command", required=True)
    p = models_sub.add_parser("rebuild", help="switch every model to the staged UBM atomically")
    p.add_argument("--ubm", help="a stored UBM id instead of the staged one (e.g. the previous, to roll back)")
    with_db(p, cmd_models_rebuild)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="speakerverify", description=__doc__)
    parser.add_argument("--version", action="version", version=f"speakerverify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("features", help="print the raw Meyda-equivalent frames of one audio file")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print the API payload {config_id, mfcc, energy}")
    p.set_defaults(func=cmd_features)

    from .evaluation.runner import CONDITIONS, DEFAULT_BABBLE_CORPUS, SYSTEMS

    p = sub.add_parser("eval", help="run the fixed verification protocol on an FSDD-style corpus")
    p.add_argument("--corpus", required=True, help="folder of {digit}_{speaker}_{take}.wav files")
    p.add_argument("--k", type=int_in(1, 10), nargs="+", default=[1, 3, 5], help="digits per trial (default 1 3 5)")
    p.add_argument("--trials", type=int_in(1), default=300, help="trials per speaker and K (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--conditions",
        nargs="+",
        default=["clean", "noisy10"],
        choices=list(CONDITIONS),
        help="test-side conditions (default clean noisy10): noisy10 is the original white 10 dB; white, pink "
        "and babble at 20, 10, 5 dB mix evaluation/noise.py's noise into the test audio; hum, fan, clatter and "
        "music are held-out synthetic noises nothing was tuned on (report only)",
    )
    p.add_argument(
        "--babble-corpus",
        default=DEFAULT_BABBLE_CORPUS,
        help=f"speechocean762-8k folder the babble talkers come from (default {DEFAULT_BABBLE_CORPUS})",
    )
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), metavar="SYSTEM", help=f"from {list(SYSTEMS)}")
    p.add_argument("--json", metavar="FILE", type=new_file, help="write the result records as JSON")
    p.add_argument("--det", metavar="FILE.png", type=image_file, help="write DET curves (K = 3 when evaluated)")
    p.set_defaults(func=cmd_eval)

    db_help = "database URL (default: SPEAKERVERIFY_DATABASE_URL, else SQLite in SPEAKERVERIFY_DATA_DIR)"
    p = sub.add_parser("serve", help="run the HTTP API (applies database migrations first)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int_in(1, 65535), default=8000, help="TCP port, 1-65535 (default 8000)")
    p.add_argument("--workers", type=int_in(1), default=1, help="worker processes (default 1)")
    p.add_argument("--database-url", help=db_help)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="database maintenance")
    db_sub = p.add_subparsers(dest="db_command", required=True)
    p = db_sub.add_parser("upgrade", help="apply the schema migrations")
    p.add_argument("--database-url", help=db_help)
    p.set_defaults(func=cmd_db_upgrade)
    add_operator_commands(sub, db_sub, db_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head`): what it wanted is written. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not raise again, and exit as a killed-by-SIGPIPE command.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    return code


if __name__ == "__main__":
    sys.exit(main())
