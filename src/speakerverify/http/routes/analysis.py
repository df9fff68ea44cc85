"""Intrusion test and benchmark (aliases only, never emails)."""

from __future__ import annotations

from fastapi import APIRouter

from ...app import analysis, results
from .. import schemas
from ..auth import Context, CurrentToken

router = APIRouter(prefix="/api/v1", tags=["analysis"])


@router.get("/me/intrusion-test", summary="Other users' takes against my model", response_model=schemas.IntrusionReport)
def intrusion_test(token: CurrentToken, ctx: Context) -> results.IntrusionReport:
    return analysis.intrusion_test(ctx, token.user_id)


@router.get("/me/benchmark", summary="My takes against other users' models", response_model=schemas.BenchmarkReport)
def benchmark(token: CurrentToken, ctx: Context) -> results.BenchmarkReport:
    return analysis.benchmark(ctx, token.user_id)
