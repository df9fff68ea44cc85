"""Intrusion test and benchmark (aliases only, never emails)."""

from __future__ import annotations

from fastapi import APIRouter

from ...app import analysis
from ..auth import Context, CurrentToken
from ..schemas import BenchmarkReport, IntrusionReport

router = APIRouter(prefix="/api/v1", tags=["analysis"])


@router.get("/me/intrusion-test", summary="Other users' takes against my model")
def intrusion_test(token: CurrentToken, ctx: Context) -> IntrusionReport:
    return analysis.intrusion_test(ctx, token.user_id)


@router.get("/me/benchmark", summary="My takes against other users' models")
def benchmark(token: CurrentToken, ctx: Context) -> BenchmarkReport:
    return analysis.benchmark(ctx, token.user_id)
