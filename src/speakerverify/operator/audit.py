"""``speakerverify attempts list`` and ``speakerverify analysis``: the scores claimants are not shown.

Verification answers and the analysis views tell a user decisions and counts only (a score is an oracle to
steer an attack by); the operator reads the scores here, from the audit log and from the same analysis code
the service runs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from ..app.accounts import normalise_email
from ..app.verification import stored_reason
from ..config import Settings
from ..storage import attempts, rp, users
from .common import OperatorError, jsonable, make_context, open_database

ATTEMPT_COLUMNS = ["attempt_id", "created_at", "alias", "decision", "reason", "score", "threshold", "digits"]


def _user_id(session: Session, email: str) -> uuid.UUID:
    user = users.find_by_email(session, normalise_email(email))
    if user is None:
        raise OperatorError(f"no account with the email {email!r}")
    return user.id


def attempt_rows(settings: Settings, email: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest attempts (of ``email``'s account, or of everyone) with their scores and audit detail."""
    with open_database(settings) as db, db.read_session() as session:
        user_id = _user_id(session, email) if email else None
        aliases = {u.id: u.alias for u in users.list_users(session)}
        aliases.update(rp.subject_labels(session))  # an application's subject: client_id:subject
        return [
            {
                "attempt_id": r.id,
                "created_at": jsonable(r.created_at),
                "alias": aliases.get(r.user_id, "?"),
                "decision": r.decision,
                "reason": stored_reason(r.decision, r.detail),
                "score": r.score,
                "threshold": r.threshold,
                "digits": "".join(str(d) for d in (r.detail or {}).get("digits", [])),
                "session": r.token_jti,
                "detail": r.detail,
            }
            for r in attempts.all_attempts(session, user_id, limit)
        ]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def format_attempts(rows: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps(rows, indent=1) + "\n"
    table = [ATTEMPT_COLUMNS, *[[_cell(r[c]) for c in ATTEMPT_COLUMNS] for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(ATTEMPT_COLUMNS))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in table)


def analysis_report(settings: Settings, email: str) -> dict[str, Any]:
    """The full intrusion test and benchmark of ``email``'s account: per other speaker, by alias, with
    mean scores and the threshold (the service's own analysis code; no rate limit applies here)."""
    from ..app import analysis

    with open_database(settings) as db:
        with db.read_session() as session:
            user_id = _user_id(session, email)
        ctx = make_context(settings, db)
        return {
            "intrusion_test": asdict(analysis.intrusion_test(ctx, user_id)),
            "benchmark": asdict(analysis.benchmark(ctx, user_id)),
        }


def _rows_text(title: str, reference: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    lines = [title, f"  {'speaker':<20} {'trials':>6} {'accepted':>8} {'mean score':>10}"]
    own = reference
    lines.append(f"  {'(own, held out)':<20} {own['trials']:>6} {own['accepts']:>8} {_cell(own['mean_score']):>10}")
    for r in rows:
        lines.append(f"  {r['alias']:<20} {r['trials']:>6} {r['false_accepts']:>8} {_cell(r['mean_score']):>10}")
    return lines


def format_analysis(report: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(report, indent=1) + "\n"
    intrusion, bench = report["intrusion_test"], report["benchmark"]
    head = f"{intrusion['k']}-digit trials; threshold {intrusion['threshold']:.3f} ({intrusion['calibration']})"
    lines = [head]
    lines += _rows_text(
        "intrusion test: other speakers' takes against this model", intrusion["reference"], intrusion["impostors"]
    )
    lines += _rows_text(
        "benchmark: this user's takes against each other model (its own threshold)", bench["reference"], bench["others"]
    )
    return "\n".join(lines) + "\n"
