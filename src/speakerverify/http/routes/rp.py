"""Relying-party routes: server-to-server sessions, subjects and results (HTTP Basic), and the JWKS."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from ...app import rp_sessions, signing
from ..auth import Context, CurrentApplication
from ..middleware import StrictJSONRoute
from ..rp_schemas import Jwks, RpResultOut, RpSessionIn, RpSessionOut, RpSubjectOut

router = APIRouter(prefix="/api/v1/rp", tags=["relying parties"], route_class=StrictJSONRoute)
well_known = APIRouter(tags=["relying parties"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_BASIC: dict[int | str, dict[str, Any]] = {401: {"description": "Wrong or missing client credentials", **_PROBLEM}}
Subject = Annotated[str, Path(pattern=rp_sessions.SUBJECT_PATTERN, description="The application's user id")]
Jti = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The `jti` claim of the result token")]


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="A short-lived browser session for one subject and one purpose",
    description="The subject is created on first use, in this application's namespace only.",
    responses={**_BASIC, 429: {"description": "Too many sessions this minute; see Retry-After", **_PROBLEM}},
    response_model=RpSessionOut,
)
def new_session(body: RpSessionIn, app: CurrentApplication, ctx: Context) -> rp_sessions.IssuedSession:
    return rp_sessions.create_session(ctx, app, body.subject, body.purpose, body.nonce)


@router.get(
    "/subjects/{subject}",
    summary="A subject's enrolment state",
    responses={**_BASIC, 404: {"description": "No such subject of this application", **_PROBLEM}},
    response_model=RpSubjectOut,
)
def subject_state(subject: Subject, app: CurrentApplication, ctx: Context) -> dict[str, Any]:
    return asdict(rp_sessions.subject_info(ctx, app, subject))


@router.delete(
    "/subjects/{subject}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase a subject and all of its voice data",
    responses={**_BASIC, 404: {"description": "No such subject of this application", **_PROBLEM}},
)
def erase_subject(subject: Subject, app: CurrentApplication, ctx: Context) -> None:
    rp_sessions.erase_subject(ctx, app, subject)


@router.get(
    "/results/{jti}",
    summary="A verification result, server to server, once",
    responses={**_BASIC, 404: {"description": "Unknown, another application's, expired or fetched", **_PROBLEM}},
    response_model=RpResultOut,
)
def result(jti: Jti, app: CurrentApplication, ctx: Context) -> rp_sessions.FetchedResult:
    return rp_sessions.fetch_result(ctx, app, jti)


@well_known.get("/.well-known/jwks.json", summary="The public keys of signed results", response_model=Jwks)
def jwks(ctx: Context, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=60"  # a verifier refetches on an unknown kid
    return signing.jwks(ctx.db)
