"""Per-user rate limits on challenges and analysis, counted in the database (so they hold across workers).

A fixed one-hour window per user and action; over the limit the action is refused with ``RateLimited``
(429 with Retry-After) before any work is done. A limit of 0 disables the check.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from ..storage import lockouts
from ..storage.tables import utcnow
from .errors import RateLimited

WINDOW = timedelta(hours=1)


def count(session: Session, action: str, user_id: uuid.UUID, per_hour: int) -> None:
    """Count one ``action`` of the user in the caller's write transaction; ``RateLimited`` when the
    window's ``per_hour`` are used up (the refused request is not counted)."""
    if per_hour <= 0:
        return
    now = utcnow()
    row = lockouts.rate_for_update(session, lockouts.rate_key(action, str(user_id)), WINDOW, now)
    if row.count >= per_hour:
        retry = max(1, math.ceil((row.window_start + WINDOW - now).total_seconds()))
        raise RateLimited(action, retry)
    row.count += 1
