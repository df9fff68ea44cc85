"""Account use cases: register, log in and out, profile, export, erasure.

HTTP-free apart from raising ``ProblemError``; the routes only translate bodies to calls.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ..http.problems import ProblemError
from ..http.schemas import (
    Demographic,
    EnrolmentProgressOut,
    LoginRequest,
    Profile,
    RegisterRequest,
    TokenResponse,
    normalise_email,
)
from ..storage import export, tokens, users, utterances
from ..storage.tables import User
from . import data_statement
from .context import AppContext
from .security import AccessToken, issue_token


def _profile(user: User, progress: utterances.EnrolmentProgress) -> Profile:
    demographic = None
    if user.gender is not None or user.age_group is not None:
        demographic = Demographic.model_validate({"gender": user.gender, "age_group": user.age_group})
    return Profile(
        id=str(user.id),
        email=user.email,
        alias=user.alias,
        demographic=demographic,
        data_statement_version=user.data_statement_version,
        consented_at=user.consented_at,
        created_at=user.created_at,
        enrolment=EnrolmentProgressOut(
            takes_per_digit=list(progress.takes_per_digit),
            required_takes_per_digit=progress.required_per_digit,
            percent=progress.percent,
            ready=progress.ready,
        ),
    )


def register(ctx: AppContext, body: RegisterRequest) -> Profile:
    if body.data_statement_version is not None and body.data_statement_version != data_statement.VERSION:
        raise ProblemError(
            409,
            f"The data statement has changed (now version {data_statement.VERSION}); "
            "show the current one and ask for consent again.",
            slug="data-statement-changed",
        )
    # Hash before the transaction: on SQLite the write transaction holds the database lock.
    password_hash = ctx.passwords.hash(body.password)
    demographic = body.demographic or Demographic()
    new = users.NewUser(
        email=body.email,
        password_hash=password_hash,
        alias=body.alias,
        gender=demographic.gender,
        age_group=demographic.age_group,
        data_statement_version=data_statement.VERSION,
    )
    try:
        with ctx.db.write_session() as session:
            user = users.create_user(session, new)
            progress = utterances.enrolment_progress(session, user.id, ctx.settings.voice.takes_per_digit)
    except users.DuplicateUser as exc:
        raise ProblemError(409, f"This {exc.field} is already registered.", slug=f"{exc.field}-taken") from None
    return _profile(user, progress)


def login(ctx: AppContext, body: LoginRequest) -> TokenResponse:
    email = normalise_email(body.email)
    with ctx.db.read_session() as session:
        user = users.find_by_email(session, email)
        user_id, stored = (user.id, user.password_hash) if user else (None, None)
        generation = user.token_generation if user else 0
    # Unknown email and wrong password take the same path through argon2 and the same answer.
    if not ctx.passwords.verify(stored, body.password) or user_id is None or stored is None:
        raise ProblemError(401, "The email or password is incorrect.", slug="invalid-credentials")
    if ctx.passwords.needs_rehash(stored):  # cost parameters were raised since this hash was made
        with ctx.db.write_session() as session:
            users.set_password_hash(session, user_id, ctx.passwords.hash(body.password))
    token = issue_token(ctx.settings.secret_key, user_id, ctx.settings.token_ttl_seconds, generation=generation)
    return TokenResponse(access_token=token.token, expires_in=ctx.settings.token_ttl_seconds)


def logout(ctx: AppContext, token: AccessToken) -> None:
    with ctx.db.write_session() as session:
        tokens.revoke(session, token.jti, token.user_id, token.expires_at)
        tokens.purge_expired(session)


def _gone() -> ProblemError:
    return ProblemError(401, "This account no longer exists.", slug="unauthorised")


def profile(ctx: AppContext, user_id: uuid.UUID) -> Profile:
    with ctx.db.read_session() as session:
        user = users.get_user(session, user_id)
        if user is None:
            raise _gone()
        return _profile(user, utterances.enrolment_progress(session, user_id, ctx.settings.voice.takes_per_digit))


def erase(ctx: AppContext, user_id: uuid.UUID) -> None:
    with ctx.db.write_session() as session:
        if not users.delete_user(session, user_id):
            raise _gone()


def export_all(ctx: AppContext, user_id: uuid.UUID) -> dict[str, Any]:
    with ctx.db.read_session() as session:
        records = export.user_records(session, user_id)
    if records is None:
        raise _gone()
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "user_id": str(user_id),
        "current_data_statement_version": data_statement.VERSION,
        "records": records,
    }
