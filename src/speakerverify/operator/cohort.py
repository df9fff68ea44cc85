"""``speakerverify cohort report``: the cohort users each calibration set aside as near-duplicates.

A cohort user whose trials sound, on average, like the user being calibrated (a copy of their recordings,
their second account, a sybil enrolled with their voice) is left out of that user's calibration
(``app/calibration.py``). Nobody is told in the service; the operator reads it here and decides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..config import Settings
from ..storage import users
from ..storage.tables import Calibration
from .common import open_database


def set_aside_rows(settings: Settings) -> list[dict[str, Any]]:
    """One row per (user, set-aside cohort user): their aliases and when the calibration was computed."""
    with open_database(settings) as db, db.read_session() as session:
        aliases = {str(u.id): u.alias for u in users.list_users(session)}
        rows = []
        for cal in session.scalars(select(Calibration).order_by(Calibration.user_id)):
            for other in cal.set_aside or []:
                rows.append(
                    {
                        "user": aliases.get(str(cal.user_id), str(cal.user_id)),
                        "set_aside": aliases.get(other, other),
                        "computed_at": cal.computed_at.isoformat(),
                    }
                )
    return rows


def format_set_aside(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no calibration set anyone aside\n"
    lines = ["user\tset aside (sounds like the user)\tcalibrated at"]
    lines += [f"{r['user']}\t{r['set_aside']}\t{r['computed_at']}" for r in rows]
    return "\n".join(lines) + "\n"
