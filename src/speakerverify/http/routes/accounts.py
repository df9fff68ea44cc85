"""Accounts: register, sessions (log in / out), the caller's own profile, export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from ...app import accounts, data_statement, export, lockout, results
from ...app.accounts import normalise_email
from ...app.password_change import change_password
from .. import schemas
from ..auth import Context, CurrentToken
from ..middleware import StrictJSONRoute
from ..schemas import (
    DataStatement,
    LoginRequest,
    PasswordChange,
    RegisterRequest,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=StrictJSONRoute)
_RATE_LIMITED: dict[str, Any] = {
    "description": "Too many failed attempts (per account or per client address); see Retry-After",
    "content": {"application/problem+json": {}},
}

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Register",
    responses={
        409: {"description": "Email or alias in use (one answer for both), or data statement changed", **_PROBLEM},
        429: {"description": "Too many registrations from this client address; see Retry-After", **_PROBLEM},
    },
    response_model=schemas.Profile,
)
def register(body: RegisterRequest, ctx: Context, request: Request, response: Response) -> results.Profile:
    demographic = body.demographic or schemas.Demographic()
    new = accounts.NewAccount(
        email=body.email,
        password=body.password,
        alias=body.alias,
        gender=demographic.gender,
        age_group=demographic.age_group,
        data_statement_version=body.data_statement_version,
    )
    lockout.before_register(ctx, request.client.host if request.client else None)  # before any hashing
    profile = accounts.register(ctx, new)
    response.headers["Location"] = "/api/v1/me"
    return profile


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Log in",
    responses={401: {"description": "Wrong email or password", **_PROBLEM}, 429: _RATE_LIMITED},
    response_model=schemas.TokenResponse,
)
def login(body: LoginRequest, ctx: Context, request: Request) -> results.Token:
    email, address = normalise_email(body.email), request.client.host if request.client else None
    lockout.before_login(ctx, email, address)  # refused before any hashing when over the limit
    token = accounts.login(ctx, email, body.password)
    lockout.login_succeeded(ctx, email, address)
    return token


@router.put(
    "/me/password",
    summary="Change my password (every existing session ends; a new token is returned)",
    responses={403: {"description": "The current password is wrong", **_PROBLEM}, 429: _RATE_LIMITED},
    response_model=schemas.TokenResponse,
)
def put_password(body: PasswordChange, token: CurrentToken, ctx: Context, request: Request) -> results.Token:
    address = request.client.host if request.client else None
    return change_password(ctx, token.user_id, body.current_password, body.new_password, address)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, summary="Log out")
def logout(token: CurrentToken, ctx: Context) -> None:
    accounts.logout(ctx, token)


@router.get("/me", summary="My profile and enrolment progress", response_model=schemas.Profile)
def me(token: CurrentToken, ctx: Context) -> results.Profile:
    return accounts.profile(ctx, token.user_id)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, summary="Erase my account and all my data")
def erase_me(token: CurrentToken, ctx: Context) -> None:
    accounts.erase(ctx, token.user_id)


@router.get(
    "/me/export",
    summary="Everything stored about me, as JSON (needs a recent voice verification in this session)",
    responses={
        403: {
            "description": "This session has not passed a voice verification recently "
            "(`voice-verification-required`); GET /me/stored works without one",
            **_PROBLEM,
        }
    },
)
def export_me(token: CurrentToken, ctx: Context) -> JSONResponse:
    body: dict[str, Any] = export.export_all(ctx, token)
    return JSONResponse(body, headers={"Content-Disposition": 'attachment; filename="speakerverify-export.json"'})


@router.get(
    "/me/stored",
    summary="What is stored about me: rows and dates per table, no values",
    response_model=schemas.StoredSummary,
)
def stored(token: CurrentToken, ctx: Context) -> results.StoredSummary:
    return export.stored(ctx, token.user_id)


@router.get("/data-statement", summary="What is stored, why, how long, and how to erase it")
def get_data_statement(ctx: Context) -> DataStatement:
    return DataStatement.model_validate(data_statement.statement(ctx.settings))
