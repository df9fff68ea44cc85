"""Challenges and verifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from .. import verification
from ..auth import Context, CurrentToken
from ..features_in import segments_from_json
from ..middleware import StrictJSONRoute
from ..schemas import AttemptList, ChallengeOut, VerificationIn, VerificationOut

router = APIRouter(prefix="/api/v1", tags=["verification"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_LOCKED: dict[str, Any] = {"description": "Locked after repeated rejections; see Retry-After", **_PROBLEM}


@router.post(
    "/challenges",
    status_code=status.HTTP_201_CREATED,
    summary="Get a single-use prompt of digits to say",
    responses={409: {"description": "Enrolment not ready (`progress` says how far)", **_PROBLEM}, 429: _LOCKED},
)
def new_challenge(token: CurrentToken, ctx: Context) -> ChallengeOut:
    return verification.new_challenge(ctx, token.user_id)


@router.post(
    "/verifications",
    summary="Answer a challenge: accept or reject",
    responses={
        404: {"description": "No such challenge for this account", **_PROBLEM},
        409: {"description": "Challenge already answered, or enrolment not ready", **_PROBLEM},
        410: {"description": "Challenge expired", **_PROBLEM},
        422: {"description": "Invalid features or segment count; the challenge stays usable", **_PROBLEM},
        429: _LOCKED,
    },
)
def verify(body: VerificationIn, token: CurrentToken, ctx: Context) -> VerificationOut:
    segments = segments_from_json(body, ctx.voice.config, ctx.settings.voice)
    return verification.verify(ctx, token.user_id, body.challenge_id, segments)


@router.get("/verifications", summary="My verification attempts, newest first")
def attempts(token: CurrentToken, ctx: Context) -> AttemptList:
    return verification.attempt_log(ctx, token.user_id)
