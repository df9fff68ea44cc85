"""Liveness with a database round trip, for load balancers and orchestrators."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from ..auth import Context
from ..problems import ProblemError
from ..schemas import Health

router = APIRouter(tags=["health"])
log = logging.getLogger("speakerverify.http")


@router.get("/healthz", summary="Service and database health")
def healthz(ctx: Context) -> Health:
    try:
        ctx.db.ping()
    except Exception as exc:  # any driver error means "not healthy"; details go to the log only
        log.warning("health check: database unreachable: %s", exc)
        raise ProblemError(503, "The database is not reachable.", slug="database-unavailable") from None
    return Health(status="ok", database="ok")


@router.get("/doc", include_in_schema=False)
def doc_redirect() -> RedirectResponse:
    """The 2020 demo listed its routes at /doc; the OpenAPI docs are at /docs now."""
    return RedirectResponse("/docs", status_code=308)
