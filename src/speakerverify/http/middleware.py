"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import ProblemError, ProblemHTTPException, problem_response


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body reader passes it through instead of calling it a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes.")


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes: early from Content-Length, and while streaming without it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.limit:
                    detail = f"The request body exceeds the limit of {self.limit} bytes."
                    if declared < 0:
                        detail = "Invalid Content-Length header."
                    status = 413 if declared > self.limit else 400
                    await problem_response(status, detail, headers={"Connection": "close"})(scope, receive, send)
                    return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            # Reached only when something read the body outside FastAPI's handlers.
            if started:
                raise
            await problem_response(413, str(exc.detail), headers={"Connection": "close"})(scope, receive, send)


API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


class SecurityHeadersMiddleware:
    """Headers every response carries; API responses are never cached (they hold tokens and personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
                # pages set their own (web client, /docs)
                headers.setdefault("Content-Security-Policy", API_CSP)
                headers.setdefault("Cache-Control", "no-store")
                if https:  # meaningless (and ignored by browsers) over plain http
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- strict JSON bodies --------------------------------------------------------------------------

MAX_JSON_DEPTH = 32  # the deepest valid body (segments -> segment -> mfcc -> frame) is 5 levels
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


class _Unacceptable(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _Unacceptable(f"{name} is not valid JSON; numbers must be finite")


def _invalid_json(detail: str) -> ProblemHTTPException:
    return ProblemHTTPException(
        ProblemError(
            422,
            detail,
            slug="validation-error",
            title="Invalid request",
            errors=[{"pointer": "#", "detail": detail}],
        )
    )


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays/objects, strings ignored; O(len(body)) with numpy, no recursion."""
    stripped = _JSON_STRING.sub(b'""', body)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if len(step) else 0


def strict_json(body: bytes) -> Any:
    """``json.loads`` that refuses, with 422, what the standard parser accepts or chokes on:
    NaN/Infinity literals, nesting deeper than MAX_JSON_DEPTH (a recursion bomb) and integers too
    long to convert. Malformed JSON still raises ``json.JSONDecodeError`` (FastAPI's 400)."""
    if json_depth(body) > MAX_JSON_DEPTH:
        raise _invalid_json(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        raise
    except _Unacceptable as exc:
        raise _invalid_json(str(exc)) from None
    except (ValueError, RecursionError):  # e.g. an integer literal of thousands of digits
        raise _invalid_json("the JSON body holds a number too large to accept") from None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is parsed by ``strict_json`` (see there)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive, request._send))

        return strict_handler
