"""Who is asking: the bearer-token dependency used by every non-public route, the HTTP Basic one of
relying-party applications, and their browser sessions' bearer tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from ..app import applications, rp_sessions
from ..app.context import AppContext
from ..app.errors import InvalidClient, SessionInvalid
from ..app.security import AccessToken, InvalidToken, decode_token
from ..storage import tokens
from .problems import ProblemError

# auto_error=False: a missing header is answered by us, as a 401 problem with WWW-Authenticate.
_bearer = HTTPBearer(
    auto_error=False,
    description="The access_token from POST /api/v1/sessions, or an application's session_token "
    "(POST /api/v1/rp/sessions) on the enrolment, challenge and verification routes.",
)


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its threadpool,
# and each such hand-off costs more CPU than these functions do (profile_verify.py).
async def get_context(request: Request) -> AppContext:
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
    with ctx.db.read_connection() as conn:
        user = tokens.active_user(conn, token.user_id, token.jti, token.generation)
    if user is None:
        raise _unauthorised("The access token has been revoked or its account no longer exists; log in again.")
    return token


CurrentToken = Annotated[AccessToken, Depends(current_token)]
Context = Annotated[AppContext, Depends(get_context)]


# --- relying parties: applications (HTTP Basic) and browser sessions (bearer) ---------------------

_basic = HTTPBasic(auto_error=False, description="An application's client_id:client_secret (`speakerverify apps`).")


def current_application(
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ctx: Annotated[AppContext, Depends(get_context)],
) -> applications.Caller:
    if credentials is None:
        raise InvalidClient()
    return applications.authenticate(ctx.db, credentials.username, credentials.password)


CurrentApplication = Annotated[applications.Caller, Depends(current_application)]


@dataclass(frozen=True)
class Claimant:
    """Who speaks on an enrolment or verification route: a first-party user (``session`` None) or an
    application's subject in a browser session."""

    user_id: uuid.UUID
    jti: str
    session: rp_sessions.SessionCaller | None = None


def _browser_origin(request: Request) -> str | None:
    """The ``Origin`` a browser sent, unless the page is the service's own (same-origin requests)."""
    origin = request.headers.get("origin")
    if origin is None or origin == f"{request.url.scheme}://{request.url.netloc}":
        return None
    return origin


def _session_claimant(request: Request, ctx: AppContext, token: str) -> Claimant:
    origin = _browser_origin(request)
    try:
        caller = rp_sessions.resolve(ctx, token, origin)
    except SessionInvalid:
        if origin is not None and origin in applications.registered_origins(ctx.db):
            request.state.rp_cors_origin = origin  # the widget may read that its session ran out
        raise
    if origin is not None:
        request.state.rp_cors_origin = origin  # allowed for this session's application: CORS headers
    return Claimant(caller.user_id, caller.session_id, caller)


def _claimant(request: Request, credentials: HTTPAuthorizationCredentials | None, ctx: AppContext) -> Claimant:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        if credentials.credentials.startswith(rp_sessions.TOKEN_PREFIX):
            return _session_claimant(request, ctx, credentials.credentials)
    token = current_token(credentials, ctx)
    return Claimant(token.user_id, token.jti)


async def any_claimant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ctx: Annotated[AppContext, Depends(get_context)],
) -> Claimant:
    """On the event loop, not in the threadpool: the check is one short indexed read (no lock is waited
    for: reads on SQLite's WAL and PostgreSQL's autocommit never block), which costs less than the hand-off
    to a thread and back that a plain ``def`` dependency costs on every enrolment and verification request."""
    return _claimant(request, credentials, ctx)


async def enrol_claimant(claimant: Annotated[Claimant, Depends(any_claimant)]) -> Claimant:
    if claimant.session is not None:
        rp_sessions.require(claimant.session, "enrol")
    return claimant


async def verify_claimant(claimant: Annotated[Claimant, Depends(any_claimant)]) -> Claimant:
    if claimant.session is not None:
        rp_sessions.require(claimant.session, "verify")
    return claimant


AnyClaimant = Annotated[Claimant, Depends(any_claimant)]
EnrolClaimant = Annotated[Claimant, Depends(enrol_claimant)]
VerifyClaimant = Annotated[Claimant, Depends(verify_claimant)]
