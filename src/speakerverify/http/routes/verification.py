"""Challenges and verifications."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from starlette.concurrency import run_in_threadpool

from ...app import results, rp_sessions, verification
from ...app.context import AppContext
from .. import schemas
from ..auth import Claimant, Context, CurrentToken, VerifyClaimant
from ..features_in import FRAMES_TYPE, feature_request_body, read_feature_body, segments_from_binary, segments_from_json
from ..middleware import StrictJSONRoute
from ..schemas import VerificationIn

router = APIRouter(prefix="/api/v1", tags=["verification"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_LOCKED: dict[str, Any] = {"description": "Locked after repeated rejections; see Retry-After", **_PROBLEM}
_ENROL_SESSION: dict[str, Any] = {"description": "An enrol session cannot verify", **_PROBLEM}
_LIMITED: dict[str, Any] = {
    "description": "Locked after repeated rejections, or too many challenges this hour; see Retry-After",
    **_PROBLEM,
}


@router.post(
    "/challenges",
    status_code=status.HTTP_201_CREATED,
    summary="Get a single-use prompt of digits to say",
    responses={
        403: _ENROL_SESSION,
        409: {"description": "Enrolment not ready (`progress` says how far)", **_PROBLEM},
        429: _LIMITED,
    },
    response_model=schemas.ChallengeOut,
)
async def new_challenge(token: VerifyClaimant, ctx: Context) -> results.Challenge:
    # async, with the use case handed to the threadpool once: a plain ``def`` route also hands its
    # response's validation to a thread, a second round trip per request.
    return await run_in_threadpool(verification.new_challenge, ctx, token.user_id)


async def _answer_body(request: Request) -> VerificationIn | bytes:
    return await read_feature_body(request, VerificationIn)


@router.post(
    "/verifications",
    summary="Answer a challenge: accept or reject, and why (never a score)",
    description=f"The answer as JSON (`VerificationIn`) or in the binary form (`{FRAMES_TYPE}`).",
    responses={
        403: _ENROL_SESSION,
        404: {"description": "No such challenge for this account", **_PROBLEM},
        409: {"description": "Challenge already answered, or enrolment not ready", **_PROBLEM},
        410: {"description": "Challenge expired", **_PROBLEM},
        415: {"description": f"Neither application/json nor {FRAMES_TYPE}", **_PROBLEM},
        422: {"description": "Invalid features or segment count; the challenge stays usable", **_PROBLEM},
        429: _LOCKED,
    },
    openapi_extra=feature_request_body(VerificationIn),
    response_model=schemas.VerificationOut,
    response_model_exclude_none=True,  # result_token (application sessions), snr_db and advice (too_noisy)
)
async def verify(
    token: VerifyClaimant, ctx: Context, body: Annotated[VerificationIn | bytes, Depends(_answer_body)]
) -> results.Verification:
    return await run_in_threadpool(_verify, token, ctx, body)  # one hand-off (see new_challenge)


def _verify(token: Claimant, ctx: AppContext, body: VerificationIn | bytes) -> results.Verification:
    config, policy = ctx.voice.config, ctx.settings.voice
    if isinstance(body, bytes):
        challenge_id, segments = segments_from_binary(body, config, policy)
    else:
        challenge_id, segments = body.challenge_id, segments_from_json(body, config, policy)
    result = verification.verify(ctx, token.user_id, challenge_id, segments, token.jti)
    if token.session is not None:
        return replace(result, result_token=rp_sessions.sign_result(ctx, token.session, result))
    return result


@router.get(
    "/verifications",
    summary="My verification attempts, newest first: time, decision, reason",
    response_model=schemas.AttemptList,
)
def attempts(token: CurrentToken, ctx: Context) -> results.Attempts:
    return verification.attempt_log(ctx, token.user_id)
