"""Subjects and browser sessions of relying-party applications, and their signed results.

A subject is an application's own user id, namespaced by the application: B's "alice" is another person
than A's. It is backed by a users row with no usable email or password, so the enrolment and verification
use cases serve it unchanged. A session token is opaque (only its sha256 is stored), short-lived, and bound
to one subject and one purpose; the browser sends it as a bearer token on the existing routes.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from ..storage import lockouts, rp, users, utterances
from ..storage.tables import RpResult, RpSession, User, utcnow
from . import signing
from .applications import Caller
from .context import AppContext
from .enrolment import progress_out
from .errors import (
    ApplicationRateLimited,
    OriginNotAllowed,
    ResultUnknown,
    SessionInvalid,
    SubjectUnknown,
    WrongPurpose,
)
from .results import Progress, Verification

Purpose = Literal["enrol", "verify"]
SubjectState = Literal["new", "enrolling", "ready"]
TOKEN_PREFIX = "svs_"  # tells session tokens from first-party access tokens at a glance
SUBJECT_PATTERN = r"^[A-Za-z0-9._~@+:=-]{1,128}$"
NONCE_PATTERN = r"^[\x21-\x7e]{1,128}$"
AMR = ["vbm"]  # RFC 8176: voice biometric
_RATE_WINDOW = timedelta(minutes=1)
_PURGE_EVERY = 20


@dataclass(frozen=True)
class IssuedSession:
    session_token: str
    expires_at: datetime
    subject_state: SubjectState


@dataclass(frozen=True)
class SubjectInfo:
    subject: str
    subject_state: SubjectState
    progress: Progress


@dataclass(frozen=True)
class SessionCaller:
    """A valid browser session: whose (``user_id`` backs ``subject`` of ``client_id``), for what."""

    session_id: str
    user_id: uuid.UUID
    app_id: uuid.UUID
    client_id: str
    subject: str
    purpose: Purpose
    nonce: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class FetchedResult:
    jti: str
    subject: str
    nonce: str
    decision: str
    reason: str
    issued_at: datetime
    result_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _state(session: Session, user_id: uuid.UUID, required: int) -> tuple[SubjectState, Progress]:
    progress = utterances.enrolment_progress(session, user_id, required)
    state: SubjectState = "ready" if progress.ready else "enrolling" if sum(progress.takes_per_digit) else "new"
    return state, progress_out(progress)


def _subject_user(session: Session, app_id: uuid.UUID, subject: str) -> uuid.UUID:
    """The users row behind the subject, created with it on first use."""
    found = rp.find_subject(session, app_id, subject)
    if found is not None:
        return found.user_id
    user_id = uuid.uuid4()
    label = "s-" + user_id.hex[:30]  # unique, and says nothing about the application or its user
    user = User(
        id=user_id,
        email=f"{user_id.hex}@subjects.invalid",  # RFC 2606: can never be an address anyone registers
        password_hash="!",  # no argon2 hash verifies against this: nobody logs in as a subject
        alias=label,
        alias_key=label,
        data_statement_version="relying-party",  # consent is the application's to collect
        consented_at=utcnow(),
    )
    return rp.add_subject(session, app_id, subject, user).user_id


def _count(session: Session, caller: Caller, per_minute: int, now: datetime) -> None:
    if per_minute > 0:
        row = lockouts.rate_for_update(session, lockouts.rate_key("rp-session", caller.client_id), _RATE_WINDOW, now)
        if row.count >= per_minute:
            raise ApplicationRateLimited(max(1, math.ceil((row.window_start + _RATE_WINDOW - now).total_seconds())))
        row.count += 1
    rp.count_session(session, caller.app_id)


def create_session(ctx: AppContext, caller: Caller, subject: str, purpose: Purpose, nonce: str) -> IssuedSession:
    policy = ctx.settings.relying_parties
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(seconds=policy.session_ttl_seconds)
    with ctx.db.write_session() as session:
        _count(session, caller, policy.sessions_per_minute, now)
        user_id = _subject_user(session, caller.app_id, subject)
        if secrets.randbelow(_PURGE_EVERY) == 0:  # now and then: expired sessions and results are useless
            rp.purge_sessions(session, now)
            rp.purge_results(session, now)
        row = RpSession(
            token_sha256=token_hash(token),
            id=uuid.uuid4().hex,
            app_id=caller.app_id,
            user_id=user_id,
            purpose=purpose,
            nonce=nonce,
            created_at=now,
            expires_at=expires,
        )
        rp.add_session(session, row)
        state, _ = _state(session, user_id, ctx.settings.voice.takes_per_digit)
    return IssuedSession(token, expires.replace(microsecond=0), state)


def subject_info(ctx: AppContext, caller: Caller, subject: str) -> SubjectInfo:
    with ctx.db.read_session() as session:
        found = rp.find_subject(session, caller.app_id, subject)
        if found is None:
            raise SubjectUnknown()
        state, progress = _state(session, found.user_id, ctx.settings.voice.takes_per_digit)
    return SubjectInfo(subject, state, progress)


def erase_subject(ctx: AppContext, caller: Caller, subject: str) -> None:
    """Erase the subject with every take, model, attempt, session and result (one cascade)."""
    with ctx.db.write_session() as session:
        found = rp.find_subject(session, caller.app_id, subject)
        if found is None:
            raise SubjectUnknown()
        user_id = found.user_id
        users.delete_user(session, user_id)
    ctx.voice.forget(user_id)


def resolve(ctx: AppContext, token: str, origin: str | None) -> SessionCaller:
    """The session behind a bearer token; refused when unknown or expired (``SessionInvalid``) or when a
    browser's ``origin`` is not one of the application's (``OriginNotAllowed``)."""
    with ctx.db.read_session() as session:
        found = rp.find_session(session, token_hash(token))
        if found is None:
            raise SessionInvalid()
        row, app = found
        if row.expires_at <= utcnow():
            raise SessionInvalid("The session has expired; ask the application for a new one.")
        subject = rp.subject_of_user(session, row.user_id)
        if subject is None or subject.app_id != app.id:
            raise SessionInvalid()
    if origin is not None and origin not in app.origins:
        raise OriginNotAllowed(origin)
    purpose: Purpose = "verify" if row.purpose == "verify" else "enrol"
    return SessionCaller(
        row.id, row.user_id, app.id, app.client_id, subject.subject, purpose, row.nonce, tuple(app.origins)
    )


def require(caller: SessionCaller, purpose: Purpose) -> None:
    if caller.purpose != purpose:
        raise WrongPurpose(caller.purpose)


def sign_result(ctx: AppContext, caller: SessionCaller, result: Verification) -> str:
    """The signed result of a verify session's answer (RFC 7519 claims, no score), kept for the results
    route until it expires."""
    policy = ctx.settings.relying_parties
    now = utcnow().replace(microsecond=0)
    expires = now + timedelta(seconds=policy.result_ttl_seconds)
    jti = uuid.uuid4().hex
    claims = {
        "iss": policy.issuer,
        "aud": caller.client_id,
        "sub": caller.subject,
        "nonce": caller.nonce,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
        "amr": AMR,
        "decision": result.decision,
        "reason": result.reason,
    }
    token = signing.sign(ctx.db, ctx.settings, claims)
    row = RpResult(
        jti=jti,
        app_id=caller.app_id,
        user_id=caller.user_id,
        attempt_id=result.attempt_id,
        subject=caller.subject,
        nonce=caller.nonce,
        decision=result.decision,
        reason=result.reason,
        token=token,
        created_at=now,
        expires_at=expires,
    )
    with ctx.db.write_session() as session:
        rp.add_result(session, row)
    return token


def fetch_result(ctx: AppContext, caller: Caller, jti: str) -> FetchedResult:
    """The application's result ``jti``, once: a second fetch, another application's or an expired
    result is ``ResultUnknown``."""
    with ctx.db.write_session() as session:
        row = rp.take_result(session, caller.app_id, jti, utcnow())
        if row is None:
            raise ResultUnknown()
        return FetchedResult(row.jti, row.subject, row.nonce, row.decision, row.reason, row.created_at, row.token)
