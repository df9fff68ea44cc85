"""Who is asking: the bearer-token dependency used by every non-public route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..app.context import AppContext
from ..app.security import AccessToken, InvalidToken, decode_token
from ..storage import tokens
from .problems import ProblemError

# auto_error=False: a missing header is answered by us, as a 401 problem with WWW-Authenticate.
_bearer = HTTPBearer(auto_error=False, description="The access_token from POST /api/v1/sessions.")


def get_context(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


def _unauthorised(detail: str) -> ProblemError:
    return ProblemError(401, detail, slug="unauthorised", headers={"WWW-Authenticate": 'Bearer realm="speakerverify"'})


def current_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ctx: Annotated[AppContext, Depends(get_context)],
) -> AccessToken:
    """The verified token of the caller, checked against the shared revocation table on every request."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("Log in first: send 'Authorization: Bearer <access_token>'.")
    try:
        token = decode_token(ctx.settings.secret_key, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorised(str(exc)) from None
    with ctx.db.read_session() as session:
        user = tokens.active_user(session, token.user_id, token.jti, token.generation)
    if user is None:
        raise _unauthorised("The access token has been revoked or its account no longer exists; log in again.")
    return token


CurrentToken = Annotated[AccessToken, Depends(current_token)]
Context = Annotated[AppContext, Depends(get_context)]
