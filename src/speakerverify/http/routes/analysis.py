"""Intrusion test and benchmark, for the user: aggregate counts only (the per-speaker tables are the
operator's, ``speakerverify analysis``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...app import analysis, results
from .. import schemas
from ..auth import Context, CurrentToken

router = APIRouter(prefix="/api/v1", tags=["analysis"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Enrolment not ready", "content": {"application/problem+json": {}}},
    429: {"description": "Too many analyses this hour; see Retry-After", "content": {"application/problem+json": {}}},
}


@router.get(
    "/me/intrusion-test",
    summary="Other voices' takes against my model: how many would pass",
    responses=_RESPONSES,
    response_model=schemas.AnalysisSummary,
)
def intrusion_test(token: CurrentToken, ctx: Context) -> results.AnalysisSummary:
    return analysis.intrusion_summary(ctx, token.user_id)


@router.get(
    "/me/benchmark",
    summary="My takes against other voices' models: how many would pass",
    responses=_RESPONSES,
    response_model=schemas.AnalysisSummary,
)
def benchmark(token: CurrentToken, ctx: Context) -> results.AnalysisSummary:
    return analysis.benchmark_summary(ctx, token.user_id)
