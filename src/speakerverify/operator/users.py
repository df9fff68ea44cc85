"""``speakerverify users list | set-password | unlock``: the original's userList.py, and the operator's tools."""

from __future__ import annotations

import csv
import io
import secrets
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..config import Settings
from ..features import DEFAULT_CONFIG
from ..models.speaker import N_DIGITS
from ..storage import users
from ..storage.tables import LegacyTake, SpeakerModelRow, User, Utterance, VerificationAttempt
from .common import OperatorError, make_context, open_database

# Stored instead of a hash for accounts that have no password yet (imported from the 2020 demo):
# argon2 cannot parse it, so no password ever matches, and nothing can be derived from it.
UNUSABLE_PASSWORD = "!unusable: no password set; an operator runs `speakerverify users set-password`"

COLUMNS = [
    "alias",
    "gender",
    "age_group",
    *[f"takes_{d}" for d in range(N_DIGITS)],
    "ready",
    "accepts",
    "rejects",
    "legacy_takes",
    "password_set",
    "last_activity",
]


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def user_rows(settings: Settings, include_email: bool = False) -> list[dict[str, Any]]:
    """One row per user: alias, demographic, takes per digit, ready, verification counts, last activity."""
    with open_database(settings) as db, db.read_session() as session:
        takes: dict[Any, list[int]] = {}
        last_take: dict[Any, datetime] = {}
        for uid, digit, n, last in session.execute(
            select(Utterance.user_id, Utterance.digit, func.count(), func.max(Utterance.created_at))
            .where(Utterance.config_id == DEFAULT_CONFIG.config_id)
            .group_by(Utterance.user_id, Utterance.digit)
        ):
            takes.setdefault(uid, [0] * N_DIGITS)[int(digit)] = int(n)
            last_take[uid] = _latest(last_take.get(uid), _aware(last))  # type: ignore[assignment]
        decisions: dict[Any, dict[str, int]] = {}
        last_attempt: dict[Any, datetime] = {}
        for uid, decision, n, last in session.execute(
            select(
                VerificationAttempt.user_id,
                VerificationAttempt.decision,
                func.count(),
                func.max(VerificationAttempt.created_at),
            ).group_by(VerificationAttempt.user_id, VerificationAttempt.decision)
        ):
            decisions.setdefault(uid, {})[str(decision)] = int(n)
            last_attempt[uid] = _latest(last_attempt.get(uid), _aware(last))  # type: ignore[assignment]
        ready = {uid: bool(r) for uid, r in session.execute(select(SpeakerModelRow.user_id, SpeakerModelRow.ready))}
        legacy = {
            uid: int(n)
            for uid, n in session.execute(select(LegacyTake.user_id, func.count()).group_by(LegacyTake.user_id))
        }
        rows = []
        for user in users.list_users(session):
            per_digit = takes.get(user.id, [0] * N_DIGITS)
            row: dict[str, Any] = {"email": user.email} if include_email else {}
            row.update(
                alias=user.alias,
                gender=user.gender or "",
                age_group=user.age_group or "",
                **{f"takes_{d}": per_digit[d] for d in range(N_DIGITS)},
                ready=ready.get(user.id, False),
                accepts=decisions.get(user.id, {}).get("accept", 0),
                rejects=decisions.get(user.id, {}).get("reject", 0),
                legacy_takes=int(legacy.get(user.id, 0)),
                password_set=not user.password_hash.startswith("!"),
                last_activity=_latest(user.created_at, last_take.get(user.id), last_attempt.get(user.id)),
            )
            rows.append(row)
    return rows


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive UTC (or even text).
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_users(rows: list[dict[str, Any]], as_csv: bool, include_email: bool) -> str:
    columns = (["email"] if include_email else []) + COLUMNS

    def cell(row: dict[str, Any], col: str) -> str:
        value = row[col]
        if isinstance(value, datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    if as_csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row, c) for c in columns])
        return buf.getvalue()
    short = [c for c in columns if not c.startswith("takes_")]
    header = [*short[:3], "takes 0-9", *short[3:]]
    lines = [" | ".join(header)]
    for row in rows:
        cells = [cell(row, c) for c in short]
        digits = " ".join(str(row[f"takes_{d}"]) for d in range(N_DIGITS))
        lines.append(" | ".join([*cells[:3], digits, *cells[3:]]))
    lines.append(f"{len(rows)} users")
    return "\n".join(lines) + "\n"


def read_new_password(generate: bool) -> tuple[str, bool]:
    """(password, generated?): generated with ``secrets``, else read from the terminal or stdin."""
    if generate:
        return secrets.token_urlsafe(15), True
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise OperatorError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    from ..app.errors import WeakPassword
    from ..app.password_policy import check_new_password

    try:  # the API's rule: at least 10 characters and zxcvbn score >= 3
        check_new_password(password)
    except WeakPassword as exc:
        raise OperatorError(exc.message) from None
    return password, False


def set_password(settings: Settings, email: str, password: str) -> User:
    """Give the account ``email`` this password (e.g. an imported account, which has none)."""
    from ..app.accounts import normalise_email

    with open_database(settings) as db:
        ctx = make_context(settings, db)
        password_hash = ctx.passwords.hash(password)  # before the write transaction (SQLite lock)
        with db.write_session() as session:
            user = users.find_by_email(session, normalise_email(email))
            if user is None:
                raise OperatorError(f"no account with the email {email!r}")
            users.set_password_hash(session, user.id, password_hash)
            return user


def unlock(settings: Settings, email: str) -> tuple[User, int]:
    """Lift the account's verification lockout and forget its login throttle counters (every client
    address's); returns the user and the number of login counters removed."""
    from ..app.accounts import normalise_email
    from ..app.lockout import unlock as lift

    with open_database(settings) as db, db.write_session() as session:
        user = users.find_by_email(session, normalise_email(email))
        if user is None:
            raise OperatorError(f"no account with the email {email!r}")
        return user, lift(session, user.id, user.email)
