"""The right of access, as a two-factor action.

The full export holds every enrolment take's raw features: with a stolen password (hence a session) alone,
those would be enough to build answers that pass verification. So it is handed out only to a session that
passed a voice verification within ``export_verification_seconds``; any session may see what is stored
(row counts and dates per table, no values) through ``stored``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ..storage import attempts, export
from ..storage.tables import utcnow
from . import data_statement
from .context import AppContext
from .errors import AccountGone, VoiceVerificationRequired
from .results import StoredSummary, StoredTable
from .security import AccessToken


def export_all(ctx: AppContext, token: AccessToken) -> dict[str, Any]:
    """Everything stored about the token's user; ``VoiceVerificationRequired`` unless this session
    (the token's ``jti``) was accepted by a voice verification recently."""
    seconds = ctx.settings.user_limits.export_verification_seconds
    since = utcnow() - timedelta(seconds=seconds)
    with ctx.db.read_session() as session:
        if not attempts.accepted_since(session, token.user_id, token.jti, since):
            raise VoiceVerificationRequired(seconds)
        records = export.user_records(session, token.user_id)
    if records is None:
        raise AccountGone()
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "user_id": str(token.user_id),
        "current_data_statement_version": data_statement.VERSION,
        "records": records,
    }


def stored(ctx: AppContext, user_id: uuid.UUID) -> StoredSummary:
    with ctx.db.read_session() as session:
        summary = export.user_summary(session, user_id)
    return StoredSummary(
        tables=[StoredTable(table=name, rows=n, first=first, last=last) for name, (n, first, last) in summary.items()],
        export_needs_verification_within_seconds=ctx.settings.user_limits.export_verification_seconds,
    )
