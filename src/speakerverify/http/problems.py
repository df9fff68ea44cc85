"""Errors as RFC 9457 problem details (``application/problem+json``), for every failure path.

Problem types are URNs (``urn:speakerverify:problem:<slug>``); plain HTTP failures with
nothing more to say use ``about:blank`` with the status phrase as title, as RFC 9457 suggests.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
