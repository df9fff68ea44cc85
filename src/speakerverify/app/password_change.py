"""Changing the password: every existing access token of the user stops working."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ..storage.tables import User
from .context import AppContext
from .errors import AccountGone, WrongPassword
from .lockout import before_login, login_succeeded
from .password_policy import check_new_password
from .results import Token
from .security import issue_token


def change_password(
    ctx: AppContext, user_id: uuid.UUID, current_password: str, new_password: str, address: str | None
) -> Token:
    """Check the current password (rate limited like logins), store the new hash, raise the token generation.

    Every token issued before (including the caller's) is refused from then on; the answer carries a
    fresh token so the caller stays signed in.
    """
    with ctx.db.read_session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise AccountGone()
        email, stored, alias = user.email, user.password_hash, user.alias
    check_new_password(new_password, (email, alias), pointer="#/new_password")
    before_login(ctx, email, address)
    if not ctx.passwords.verify(stored, current_password):
        raise WrongPassword()
    login_succeeded(ctx, email, address)
    new_hash = ctx.passwords.hash(new_password)
    with ctx.db.write_session() as session:
        row = session.scalar(select(User).where(User.id == user_id).with_for_update())
        if row is None:
            raise AccountGone()
        row.password_hash = new_hash
        row.token_generation += 1
        generation = row.token_generation
    token = issue_token(ctx.settings.secret_key, user_id, ctx.settings.token_ttl_seconds, generation=generation)
    return Token(access_token=token.token, expires_in=ctx.settings.token_ttl_seconds)
