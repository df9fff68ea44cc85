"""Account use cases: register, log in and out, profile, export, erasure.

HTTP-free: refusals are domain errors (``errors``); the routes only translate bodies to calls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from ..storage import tokens, users, utterances
from ..storage.tables import ALIAS_MAX as ALIAS_MAX  # the column widths bound the fields
from ..storage.tables import EMAIL_MAX as EMAIL_MAX
from ..storage.tables import User
from . import data_statement
from .context import AppContext
from .errors import AccountGone, AlreadyRegistered, DataStatementChanged, InvalidCredentials
from .password_policy import PASSWORD_MAX as PASSWORD_MAX
from .password_policy import PASSWORD_MIN as PASSWORD_MIN
from .password_policy import check_new_password
from .results import Demographic, Profile, Progress, Token
from .security import AccessToken, issue_token

GENDERS = ("female", "male", "non-binary", "other", "prefer-not-to-say")
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+", "prefer-not-to-say")
Gender = Literal["female", "male", "non-binary", "other", "prefer-not-to-say"]
AgeGroup = Literal["18-24", "25-34", "35-44", "45-54", "55-64", "65+", "prefer-not-to-say"]
ALIAS_MIN = 3


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class NewAccount:
    """A registration, already validated field by field (email normalised, consent given)."""

    email: str
    password: str
    alias: str
    gender: str | None = None
    age_group: str | None = None
    data_statement_version: str | None = None


def _profile(user: User, progress: utterances.EnrolmentProgress) -> Profile:
    demographic = None
    if user.gender is not None or user.age_group is not None:
        demographic = Demographic(gender=user.gender, age_group=user.age_group)
    return Profile(
        id=str(user.id),
        email=user.email,
        alias=user.alias,
        demographic=demographic,
        data_statement_version=user.data_statement_version,
        consented_at=user.consented_at,
        created_at=user.created_at,
        enrolment=Progress(
            takes_per_digit=list(progress.takes_per_digit),
            required_takes_per_digit=progress.required_per_digit,
            percent=progress.percent,
            ready=progress.ready,
        ),
    )


def register(ctx: AppContext, body: NewAccount) -> Profile:
    if body.data_statement_version is not None and body.data_statement_version != data_statement.VERSION:
        raise DataStatementChanged(data_statement.VERSION)
    check_new_password(body.password, (body.email, body.alias))
    # Hash before the transaction: on SQLite the write transaction holds the database lock.
    password_hash = ctx.passwords.hash(body.password)
    new = users.NewUser(
        email=body.email,
        password_hash=password_hash,
        alias=body.alias,
        gender=body.gender,
        age_group=body.age_group,
        data_statement_version=data_statement.VERSION,
    )
    try:
        with ctx.db.write_session() as session:
            user = users.create_user(session, new)
            progress = utterances.enrolment_progress(session, user.id, ctx.settings.voice.takes_per_digit)
    except users.DuplicateUser:
        # One answer whichever field collided (see AlreadyRegistered), after the same hashing work.
        raise AlreadyRegistered() from None
    return _profile(user, progress)


def login(ctx: AppContext, email: str, password: str) -> Token:
    email = normalise_email(email)
    with ctx.db.read_session() as session:
        user = users.find_by_email(session, email)
        user_id, stored = (user.id, user.password_hash) if user else (None, None)
        generation = user.token_generation if user else 0
    # Unknown email and wrong password take the same path through argon2 and the same answer.
    if not ctx.passwords.verify(stored, password) or user_id is None or stored is None:
        raise InvalidCredentials()
    if ctx.passwords.needs_rehash(stored):  # cost parameters were raised since this hash was made
        with ctx.db.write_session() as session:
            users.set_password_hash(session, user_id, ctx.passwords.hash(password))
    token = issue_token(ctx.settings.secret_key, user_id, ctx.settings.token_ttl_seconds, generation=generation)
    return Token(access_token=token.token, expires_in=ctx.settings.token_ttl_seconds)


def logout(ctx: AppContext, token: AccessToken) -> None:
    with ctx.db.write_session() as session:
        tokens.revoke(session, token.jti, token.user_id, token.expires_at)
        tokens.purge_expired(session)


def profile(ctx: AppContext, user_id: uuid.UUID) -> Profile:
    with ctx.db.read_session() as session:
        user = users.get_user(session, user_id)
        if user is None:
            raise AccountGone()
        return _profile(user, utterances.enrolment_progress(session, user_id, ctx.settings.voice.takes_per_digit))


def erase(ctx: AppContext, user_id: uuid.UUID) -> None:
    with ctx.db.write_session() as session:
        if not users.delete_user(session, user_id):
            raise AccountGone()
