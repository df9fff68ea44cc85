"""An example relying party: a small site with its own password login that asks for speakerverify's voice
factor at sign-in and checks the signed result on its backend.

    python examples/relying_party/app.py --service http://localhost:8000 --create-app

runs it on http://127.0.0.1:8100 (another origin than the service). ``--create-app`` registers it with
the service first (``speakerverify apps create``, in this shell's SPEAKERVERIFY_* environment, so run it
where the service's data lives); otherwise pass ``--client-id`` and ``--client-secret`` (or RP_CLIENT_ID,
RP_CLIENT_SECRET). Users, sessions and used token ids live in memory: it is an example, not a product.

The flow: register (name + password, argon2) -> enrol the voice through an enrol session and
``<speakerverify-enrol>``; sign in: password, then a verify session with a fresh nonce and
``<speakerverify-verify>``; its ``result_token`` comes back to this backend, which accepts it only if the
signature checks against the service's JWKS and ``aud`` (our client id), ``iss`` (the service), ``sub``
(the user signing in), ``nonce`` (the one we issued for this sign-in), ``exp`` and ``amr`` are right, its
``jti`` was never seen before, and ``decision`` is ``accept``.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

log = logging.getLogger("relying_party")
HERE = Path(__file__).resolve().parent
COOKIE = "rp_session"
MIN_PASSWORD = 10
ALGORITHMS = ["ES256", "EdDSA"]  # what the service signs with; never "none", never HMAC


@dataclass
class Config:
    service: str  # the service's base URL, e.g. http://127.0.0.1:8000
    client_id: str
    client_secret: str
    issuer: str  # the `iss` the service puts in its tokens: its SPEAKERVERIFY_PUBLIC_URL


@dataclass
class User:
    name: str
    password_hash: str
    subject: str  # what the service knows this user as: a random id, not the name
    voice_ready: bool = False


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user: str | None = None  # signed in (both factors, or password only before the voice is enrolled)
    pending: str | None = None  # passed the password, voice still to check
    nonce: str | None = None  # the nonce of the pending verify session


class ResultRefused(Exception):
    """The result token does not sign this user in; the message says why (for the log and the page)."""


class Service:
    """Server-to-server calls to speakerverify (HTTP Basic with the client credentials) and result checks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.jwks = jwt.PyJWKClient(f"{config.service}/.well-known/jwks.json", cache_keys=True, lifespan=300)
        self.used_jti: dict[str, float] = {}  # jti -> its exp; kept until then, so a token works once

    def _call(self, method: str, path: str, body: dict[str, str] | None = None) -> dict[str, Any]:
        credentials = base64.b64encode(f"{self.config.client_id}:{self.config.client_secret}".encode()).decode()
        request = urllib.request.Request(
            f"{self.config.service}/api/v1/rp{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def session(self, subject: str, purpose: str, nonce: str) -> dict[str, Any]:
        """A browser session for `subject`: {session_token, expires_at, subject_state}."""
        return self._call("POST", "/sessions", {"subject": subject, "purpose": purpose, "nonce": nonce})

    def subject_state(self, subject: str) -> str:
        """ "new", "enrolling" or "ready", as the service knows it."""
        try:
            return str(self._call("GET", f"/subjects/{urllib.parse.quote(subject)}")["subject_state"])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return "new"
            raise

    def check(self, token: str, subject: str, nonce: str) -> dict[str, Any]:
        """The token's claims if it signs `subject` in for the sign-in that issued `nonce`; else ResultRefused."""
        try:
            key = self.jwks.get_signing_key_from_jwt(token).key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.config.client_id,
                issuer=self.config.issuer,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "jti", "nonce"]},
            )
        except (jwt.PyJWTError, urllib.error.URLError) as exc:
            raise ResultRefused(f"invalid token: {exc}") from exc
        now = time.time()
        self.used_jti = {j: exp for j, exp in self.used_jti.items() if exp > now}
        if claims["jti"] in self.used_jti:
            raise ResultRefused("replayed token (jti already used)")
        self.used_jti[claims["jti"]] = float(claims["exp"])
        if not secrets.compare_digest(str(claims["nonce"]), nonce):
            raise ResultRefused("nonce is not the one issued for this sign-in")
        if claims["sub"] != subject:
            raise ResultRefused("token is for another subject")
        if "vbm" not in (claims.get("amr") or []):
            raise ResultRefused("amr lacks vbm")
        if claims.get("decision") != "accept":
            raise ResultRefused(f"decision is {claims.get('decision')!r} ({claims.get('reason')})")
        return claims


def page(title: str, body: str, cfg: Config, outcome: str = "", status: int = 200) -> HTMLResponse:
    """A whole page; `body` is markup built here with every value escaped. Scripts only from this origin
    and the service (the widget, its modules, its worklet and Meyda); the widget talks only to the service."""
    csp = (
        f"default-src 'self'; script-src 'self' {cfg.service}; connect-src 'self' {cfg.service}; "
        "style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} - Example RP</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/rp.css"></head>
<body><main data-outcome="{html.escape(outcome)}"><h1>{html.escape(title)}</h1>{body}</main></body></html>"""
    return HTMLResponse(doc, status_code=status, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})


def form(action: str, csrf: str, fields: str, button: str, form_id: str) -> str:
    return (
        f'<form id="{form_id}" method="post" action="{action}">'
        f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">{fields}'
        f'<button type="submit">{html.escape(button)}</button></form>'
    )


CREDENTIAL_FIELDS = (
    '<label>Name <input name="name" autocomplete="username" required></label>'
    '<label>Password <input name="password" type="password" autocomplete="current-password" required></label>'
)


def widget_page(title: str, element: str, token: str, action: str, s: Session, cfg: Config) -> HTMLResponse:
    """A page with the service's widget; static/rp.js posts its outcome to `action` with the CSRF token."""
    src = html.escape(f"{cfg.service}/widget/speakerverify.js")
    body = (
        f'<script type="module" src="{src}"></script><script type="module" src="/static/rp.js"></script>'
        f'<{element} session="{html.escape(token)}"></{element}>'
        f'<form id="voice-result" method="post" action="{action}" hidden>'
        f'<input type="hidden" name="csrf" value="{html.escape(s.csrf)}">'
        '<input type="hidden" name="result_token"><input type="hidden" name="error"></form>'
    )
    return page(title, body, cfg, outcome="voice")


def build_app(cfg: Config, service: Service | None = None) -> Starlette:
    svc = service or Service(cfg)
    hasher = PasswordHasher()
    dummy_hash = hasher.hash(secrets.token_urlsafe(16))  # unknown names cost as much as wrong passwords
    users: dict[str, User] = {}
    sessions: dict[str, Session] = {}

    def session_of(request: Request) -> tuple[str, Session]:
        sid = request.cookies.get(COOKIE, "")
        if sid not in sessions:
            sid = secrets.token_urlsafe(32)
            sessions[sid] = Session()
        return sid, sessions[sid]

    def respond(response: Response, sid: str) -> Response:
        response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=cfg.service.startswith("https"))
        return response

    async def posted(request: Request, s: Session) -> dict[str, str] | None:
        """The urlencoded form, or None if its CSRF token is not this session's."""
        fields = {k: v[0] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
        return fields if secrets.compare_digest(fields.get("csrf", ""), s.csrf) else None

    async def home(request: Request) -> Response:
        sid, s = session_of(request)
        if s.user:
            user = users[s.user]
            factor = "enrolled: sign-in asks for it" if user.voice_ready else "not enrolled"
            body = f"<p id='who'>Signed in as <b>{html.escape(user.name)}</b>. Voice factor: {factor}.</p>"
            if not user.voice_ready:
                body += "<p><a href='/voice/enrol'>Add your voice as a second factor</a>.</p>"
            body += form("/logout", s.csrf, "", "Sign out", "logout-form")
            return respond(page("Welcome", body, cfg, outcome="signed-in"), sid)
        body = "<p><a href='/login'>Sign in</a> or <a href='/register'>create an account</a>.</p>"
        return respond(page("Example relying party", body, cfg, outcome="signed-out"), sid)

    async def register(request: Request) -> Response:
        sid, s = session_of(request)
        message = ""
        if request.method == "POST":
            fields = await posted(request, s)
            name, password = (fields or {}).get("name", "").strip(), (fields or {}).get("password", "")
            if fields is None:
                message = "The form expired; try again."
            elif not name or name in users:
                message = "That name is taken or empty."
            elif len(password) < MIN_PASSWORD:
                message = f"Use a password of at least {MIN_PASSWORD} characters."
            else:
                users[name] = User(name, hasher.hash(password), subject=f"u-{secrets.token_hex(8)}")
                s.user, s.pending, s.nonce = name, None, None
                return respond(RedirectResponse("/voice/enrol", status_code=303), sid)
        body = f"<p class='error'>{html.escape(message)}</p>" if message else ""
        body += form("/register", s.csrf, CREDENTIAL_FIELDS, "Create account", "register-form")
        return respond(page("Create an account", body, cfg, status=400 if message else 200), sid)

    async def login(request: Request) -> Response:
        sid, s = session_of(request)
        message = ""
        if request.method == "POST":
            fields = await posted(request, s) or {}
            user = users.get(fields.get("name", ""))
            try:
                hasher.verify(user.password_hash if user else dummy_hash, fields.get("password", ""))
                ok = user is not None and "csrf" in fields
            except VerificationError:
                ok = False
            if ok and user:
                s.user, s.pending = (None, user.name) if user.voice_ready else (user.name, None)
                return respond(RedirectResponse("/voice/verify" if s.pending else "/", status_code=303), sid)
            message = "Wrong name or password."
        body = f"<p class='error'>{html.escape(message)}</p>" if message else ""
        body += form("/login", s.csrf, CREDENTIAL_FIELDS, "Sign in", "login-form")
        return respond(page("Sign in", body, cfg, status=401 if message else 200), sid)

    async def enrol(request: Request) -> Response:
        sid, s = session_of(request)
        if not s.user:
            return respond(RedirectResponse("/login", status_code=303), sid)
        user = users[s.user]
        if request.method == "POST":
            if await posted(request, s) is None:
                return respond(page("Voice enrolment", "<p>The form expired.</p>", cfg, "refused", 403), sid)
            # The browser's word is not enough: ask the service whether the subject is enrolled.
            user.voice_ready = svc.subject_state(user.subject) == "ready"
            return respond(RedirectResponse("/", status_code=303), sid)
        token = svc.session(user.subject, "enrol", secrets.token_urlsafe(16))["session_token"]
        return respond(widget_page("Enrol your voice", "speakerverify-enrol", token, "/voice/enrol", s, cfg), sid)

    async def verify(request: Request) -> Response:
        sid, s = session_of(request)
        if not s.pending:
            return respond(RedirectResponse("/login", status_code=303), sid)
        user = users[s.pending]
        if request.method == "GET":
            s.nonce = secrets.token_urlsafe(24)  # a fresh one for every attempt
            token = svc.session(user.subject, "verify", s.nonce)["session_token"]
            return respond(widget_page("Say the digits", "speakerverify-verify", token, "/voice/verify", s, cfg), sid)
        fields = await posted(request, s)
        nonce, s.nonce = s.nonce, None  # one result per verify session, whatever it says
        try:
            if fields is None or not nonce:
                raise ResultRefused("no voice check in progress for this form")
            svc.check(fields.get("result_token", ""), user.subject, nonce)
        except ResultRefused as refused:
            log.warning("voice factor refused for %s: %s", user.name, refused)
            body = f"<p id='why' data-why='{html.escape(str(refused))}'>The voice check did not pass.</p>"
            body += "<p><a href='/voice/verify'>Try again</a> or <a href='/login'>start over</a>.</p>"
            return respond(page("Not signed in", body, cfg, outcome="refused", status=403), sid)
        s.user, s.pending = user.name, None
        return respond(RedirectResponse("/", status_code=303), sid)

    async def logout(request: Request) -> Response:
        sid, s = session_of(request)
        if await posted(request, s) is not None:
            sessions.pop(sid, None)
        return RedirectResponse("/", status_code=303)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("rp.js", "rp.css"):
            return Response(status_code=404)
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(HERE / "static" / name, media_type=media)

    async def service_down(request: Request, exc: Exception) -> Response:
        log.error("the voice service failed: %s", exc)
        body = "<p id='why'>The voice service is not available right now. Try again in a minute.</p>"
        return page("Voice check unavailable", body, cfg, outcome="unavailable", status=503)

    return Starlette(
        exception_handlers={urllib.error.URLError: service_down},
        routes=[
            Route("/", home),
            Route("/register", register, methods=["GET", "POST"]),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/voice/enrol", enrol, methods=["GET", "POST"]),
            Route("/voice/verify", verify, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/static/{name}", static),
        ],
    )


def create_app_credentials(origin: str) -> tuple[str, str]:
    """`speakerverify apps create` for this site's origin; (client_id, client_secret)."""
    # The console script pip installs; the module with this interpreter where it is not on PATH.
    exe = shutil.which("speakerverify")
    command = [exe] if exe else [sys.executable, "-m", "speakerverify.cli"]
    out = subprocess.run(
        [*command, "apps", "create", "--name", "Example relying party", "--origin", origin, "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    created = json.loads(out)
    return created["client_id"], created["client_secret"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--service", default=os.environ.get("RP_SERVICE_URL", "http://localhost:8000"))
    p.add_argument(
        "--issuer",
        default=os.environ.get("RP_ISSUER") or os.environ.get("SPEAKERVERIFY_PUBLIC_URL"),
        help="the tokens' iss: the service's SPEAKERVERIFY_PUBLIC_URL (default: that variable, else --service)",
    )
    p.add_argument("--client-id", default=os.environ.get("RP_CLIENT_ID"))
    p.add_argument("--client-secret", default=os.environ.get("RP_CLIENT_SECRET"))
    p.add_argument("--create-app", action="store_true", help="register this site with `speakerverify apps create`")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    service = args.service.rstrip("/")
    client_id, secret = args.client_id, args.client_secret
    if args.create_app:
        client_id, secret = create_app_credentials(f"http://{args.host}:{args.port}")
    if not client_id or not secret:
        sys.exit("Pass --create-app, or --client-id and --client-secret (RP_CLIENT_ID, RP_CLIENT_SECRET).")
    cfg = Config(service=service, client_id=client_id, client_secret=secret, issuer=args.issuer or service)
    log.info("example relying party on http://%s:%d, voice factor from %s", args.host, args.port, service)
    uvicorn.run(build_app(cfg), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
