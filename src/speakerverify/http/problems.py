"""Errors as RFC 9457 problem details (``application/problem+json``), for every failure path.

Problem types are URNs (``urn:speakerverify:problem:<slug>``); plain HTTP failures with
nothing more to say use ``about:blank`` with the status phrase as title, as RFC 9457 suggests.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..app import errors

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:speakerverify:problem:"

log = logging.getLogger("speakerverify.http")


class ProblemError(Exception):
    """Raised by routes and dependencies; rendered as a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.extra = extra
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.headers = headers
        self.errors = errors


class ProblemHTTPException(StarletteHTTPException):
    """A problem raised where FastAPI only lets HTTPExceptions through (e.g. while parsing the body)."""

    def __init__(self, problem: ProblemError) -> None:
        super().__init__(problem.status, problem.detail, headers=problem.headers)
        self.problem = problem


def problem_response(
    status: int,
    detail: str,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """``extra`` adds RFC 9457 extension members (e.g. ``reason``, ``progress``)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_error(err: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error as an RFC 9457 style entry: a JSON pointer into the body, or the parameter."""
    loc = [str(p) for p in err.get("loc", ())]
    where, path = (loc[0], loc[1:]) if loc else ("body", [])
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")  # pydantic's prefix for ValueError
    entry: dict[str, Any] = {"detail": message}
    if where == "body":
        entry["pointer"] = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    else:
        entry[{"query": "parameter", "path": "parameter", "header": "header", "cookie": "cookie"}.get(where, where)] = (
            path[0] if path else where
        )
    return entry


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "The request body is not valid JSON.", slug="malformed-json")
    return problem_response(
        422,
        "The request has invalid or missing fields; see errors.",
        slug="validation-error",
        title="Invalid request",
        errors=[_field_error(e) for e in errors],
    )


async def _problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, exc.slug, exc.title, exc.headers, exc.errors, exc.extra)


async def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, ProblemHTTPException):
        return await _problem_handler(_request, exc.problem)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


@dataclass(frozen=True)
class Mapping:
    """How one domain error is answered: status, problem slug (``{reason}`` is filled from the error) and title."""

    status: int
    slug: str
    title: str | None = None


# The one table from domain errors to problem responses; the most specific class wins (MRO order).
DOMAIN_PROBLEMS: dict[type[errors.DomainError], Mapping] = {
    errors.InvalidInput: Mapping(422, "{kind}", "Invalid features"),
    errors.WrongFeatureConfig: Mapping(422, "wrong-feature-config", "Wrong feature configuration"),
    errors.NotFound: Mapping(404, "not-found"),
    errors.ChallengeUnknown: Mapping(404, "challenge-not-found"),
    errors.ChallengeUsed: Mapping(409, "challenge-used"),
    errors.ChallengeExpired: Mapping(410, "challenge-expired"),
    errors.SegmentCount: Mapping(422, "segment-count"),
    errors.AccountGone: Mapping(401, "unauthorised"),
    errors.InvalidCredentials: Mapping(401, "invalid-credentials"),
    errors.WrongPassword: Mapping(403, "wrong-password"),
    errors.AlreadyRegistered: Mapping(409, "already-registered", "Cannot register"),
    errors.WeakPassword: Mapping(422, "weak-password", "Password too easy to guess"),
    errors.RegistrationRateLimited: Mapping(429, "registration-rate-limited", "Too many attempts"),
    errors.DataStatementChanged: Mapping(409, "data-statement-changed"),
    errors.NotReady: Mapping(409, "enrolment-not-ready", "Enrolment not ready"),
    errors.TakeRejected: Mapping(422, "take-{reason}", "Take rejected"),
    errors.NotSpeech: Mapping(422, "not-speech", "Not speech"),
    errors.Locked: Mapping(429, "locked-out", "Too many attempts"),
    errors.LoginRateLimited: Mapping(429, "login-rate-limited", "Too many attempts"),
    errors.RateLimited: Mapping(429, "rate-limited", "Too many requests"),
    errors.VoiceVerificationRequired: Mapping(403, "voice-verification-required", "Voice verification required"),
    errors.InvalidClient: Mapping(401, "invalid-client", "Invalid client"),
    errors.SessionInvalid: Mapping(401, "unauthorised"),
    errors.WrongPurpose: Mapping(403, "wrong-purpose", "Wrong session purpose"),
    errors.OriginNotAllowed: Mapping(403, "origin-not-allowed", "Origin not allowed"),
    errors.SubjectUnknown: Mapping(404, "subject-not-found"),
    errors.ResultUnknown: Mapping(404, "result-not-found"),
    errors.ApplicationRateLimited: Mapping(429, "rate-limited", "Too many requests"),
}


def _mapping(error: errors.DomainError) -> Mapping:
    for cls in type(error).__mro__:
        if cls in DOMAIN_PROBLEMS:
            return DOMAIN_PROBLEMS[cls]
    raise LookupError(f"no problem mapping for {type(error).__name__}")


def _extras(error: errors.DomainError) -> tuple[dict[str, Any], dict[str, str] | None, list[dict[str, Any]] | None]:
    """Extension members, headers and field errors a client can act on (never internals)."""
    extra: dict[str, Any] = {}
    headers, field_errors = None, None
    if isinstance(error, errors.TakeRejected):
        extra["reason"] = error.reason
    if isinstance(error, errors.NotReady) and error.progress is not None:
        extra["progress"] = asdict(error.progress)
    if isinstance(error, errors.NotSpeech):
        extra["reason"] = "not_speech"
        field_errors = [{"detail": "not speech", "pointer": p} for p in error.pointers]
    if isinstance(error, errors.TooManyAttempts):
        extra["retry_after"] = error.retry_after
        headers = {"Retry-After": str(error.retry_after)}
    if isinstance(error, errors.InvalidClient):
        headers = {"WWW-Authenticate": 'Basic realm="speakerverify"'}
    if isinstance(error, errors.SessionInvalid):
        headers = {"WWW-Authenticate": 'Bearer realm="speakerverify"'}
    if isinstance(error, errors.AccountGone):
        headers = {"WWW-Authenticate": 'Bearer realm="speakerverify"'}
    if isinstance(error, errors.InvalidInput) and error.pointer is not None:
        field_errors = [{"detail": error.reason, "pointer": error.pointer}]
    if isinstance(error, errors.WrongFeatureConfig):
        field_errors = [{"detail": f"expected {error.expected}", "pointer": "#/config_id"}]
    if isinstance(error, errors.WeakPassword):
        field_errors = [{"pointer": error.pointer, "detail": error.reason}]
    if isinstance(error, errors.WrongPassword):
        field_errors = [{"pointer": "#/current_password", "detail": "incorrect"}]
    return extra, headers, field_errors


def domain_problem(error: errors.DomainError) -> JSONResponse:
    how = _mapping(error)
    slug = how.slug.format(
        reason=getattr(error, "reason", "").replace("_", "-"),
        kind=getattr(error, "kind", ""),
    )
    extra, headers, field_errors = _extras(error)
    return problem_response(how.status, error.message, slug, how.title, headers, field_errors, extra or None)


async def _domain_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    return domain_problem(exc)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log only; clients learn nothing about internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "An unexpected error occurred; it has been logged.", slug="internal-error")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; extension members (e.g. `reason`, `progress`, `retry_after`) may follow.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["detail"],
            },
        },
    },
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the service sends: every error response (FastAPI documents
    422 as ``application/json`` ValidationError) is ``application/problem+json`` with the Problem schema."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                if code[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
    for name in ("HTTPValidationError", "ValidationError"):  # no longer referenced
        schema["components"]["schemas"].pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(base_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(errors.DomainError, _domain_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
