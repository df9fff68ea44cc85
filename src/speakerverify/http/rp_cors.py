"""CORS for relying-party applications' browser sessions (pure ASGI).

The allowed origins live in the database, per application, so Starlette's static CORSMiddleware cannot
serve them. A preflight from any registered origin to a browser route is answered; the actual request's
``Origin`` is checked against its own session's application by the auth dependency
(``http/auth.py``), which marks the request (``request.state.rp_cors_origin``) so that only then the
response carries ``Access-Control-Allow-Origin``. Origins of the first-party site (SPEAKERVERIFY_CORS_ORIGINS)
are left to Starlette's middleware.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The routes a browser session uses (the server-to-server /api/v1/rp routes are not among them).
BROWSER_PATHS = (
    "/api/v1/enrolment/utterances",
    "/api/v1/challenges",
    "/api/v1/verifications",
    "/api/v1/feature-config",
)
PUBLIC_PATHS = ("/api/v1/feature-config",)  # no session to check: any registered origin may read it
ALLOW_METHODS = "GET, POST, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Retry-After"
MAX_AGE = "600"


def _browser_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in BROWSER_PATHS)


class RelyingPartyCORSMiddleware:
    def __init__(self, app: ASGIApp, registered: Callable[[], set[str]], first_party: tuple[str, ...]) -> None:
        self.app = app
        self.registered = registered  # blocking (a database read): run in a worker thread
        self.first_party = set(first_party)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None or origin in self.first_party or not _browser_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with request.state of the route
        if scope["path"] in PUBLIC_PATHS and origin in await anyio.to_thread.run_sync(self.registered):
            state["rp_cors_origin"] = origin

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get("rp_cors_origin") == origin:
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: str, scope: Scope, receive: Receive, send: Send) -> None:
        if origin not in await anyio.to_thread.run_sync(self.registered):
            response = PlainTextResponse("Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"})
        else:
            response = PlainTextResponse(
                "OK",
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": MAX_AGE,
                    "Vary": "Origin",
                },
            )
        await response(scope, receive, send)
