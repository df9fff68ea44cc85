"""The application factory: ``create_app(settings)``; ``app_from_env`` for uvicorn workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from threadpoolctl import threadpool_limits

from .. import __version__
from ..app import applications, signing
from ..app.context import AppContext
from ..app.security import Passwords
from ..config import Settings, settings_from_env
from ..storage import migrate, ubms
from ..storage.db import Database
from ..voice.runtime import VoiceRuntime, resolve_ubm
from . import problems
from .middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from .routes import accounts, analysis, enrolment, health, rp, verification, web
from .rp_cors import RelyingPartyCORSMiddleware

DESCRIPTION = (
    "Voice verification from browser-computed features. Errors are RFC 9457 problem details "
    "(application/problem+json). Authenticate with the bearer token from POST /api/v1/sessions."
)


def create_app(settings: Settings) -> FastAPI:
    """A ready app; the database must already be migrated (``speakerverify serve`` does it)."""
    # A request's matrices are small (hundreds of frames x 256 components): a second BLAS thread per
    # product only spins against the other requests' threads (measured: 6 ms instead of 0.3 ms under load).
    threadpool_limits(1, user_api="blas")
    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        migrate.check_schema(db)  # refuse to serve a schema this code does not understand
        with db.write_session() as session:  # takes reference their UBM row; make sure it is there
            ubms.put_ubm(session, voice.ubm)
        signing.ensure_key(db, settings)  # the first start generates the result-signing key
        yield
        db.dispose()

    app = FastAPI(
        title="speakerverify",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by routes/web.py from our own copy of Swagger UI
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    voice = VoiceRuntime(resolve_ubm(db, settings.ubm_file))
    app.state.ctx = AppContext(settings=settings, db=db, passwords=Passwords(settings.argon2), voice=voice)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(accounts.router)
    app.include_router(enrolment.router)
    app.include_router(verification.router)
    app.include_router(analysis.router)
    app.include_router(rp.router)
    app.include_router(rp.well_known)
    app.include_router(web.router)  # the web client at / (last: the API routes come first)

    # Added innermost first: the body limit sits inside CORS (so a 413 still carries CORS headers
    # a browser needs to read it) and the security headers wrap everything.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    # Outside Starlette's CORS, which would refuse an application's preflight as a disallowed origin.
    app.add_middleware(
        RelyingPartyCORSMiddleware,
        registered=lambda: applications.registered_origins(db),
        first_party=settings.cors_origins,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn worker processes (``--factory``): settings from ``SPEAKERVERIFY_*``."""
    return create_app(settings_from_env())
