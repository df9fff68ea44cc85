"""Reading the audit log: the API answers decisions and reasons only, so tests that need a score read the
attempt's row (score, threshold, per-digit detail) from storage, as the operator does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from speakerverify.storage.db import Database
from speakerverify.storage.tables import VerificationAttempt


@dataclass(frozen=True)
class Audited:
    score: float | None
    threshold: float | None
    decision: str
    detail: dict[str, Any]
    token_jti: str | None


def audited(database: Database | str, attempt_id: int) -> Audited:
    """The stored attempt ``attempt_id`` (``database``: a Database or its URL)."""
    db = Database(database) if isinstance(database, str) else database
    try:
        with db.read_session() as s:
            row = s.get(VerificationAttempt, attempt_id)
            assert row is not None, attempt_id
            return Audited(row.score, row.threshold, row.decision, dict(row.detail or {}), row.token_jti)
    finally:
        if isinstance(database, str):
            db.dispose()


def token_jti(headers: dict[str, str]) -> str:
    """The session id (``jti``) of an Authorization header's bearer token (read, not verified)."""
    import jwt

    token = headers["Authorization"].split(" ", 1)[1]
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def grant_voice(database: Database, headers: dict[str, str]) -> None:
    """Plant an accepted verification of this session, as passing one would record: for tests of what an
    export contains (tests of the gate itself answer real challenges)."""
    import uuid

    import jwt

    token = headers["Authorization"].split(" ", 1)[1]
    user_id = uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sub"])
    with database.write_session() as s:
        s.add(
            VerificationAttempt(
                user_id=user_id,
                n_frames=0,
                decision="accept",
                detail={"reason": "accepted"},
                token_jti=token_jti(headers),
            )
        )
