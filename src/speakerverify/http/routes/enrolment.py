"""The feature configuration and enrolment takes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status

from ...app import enrolment, results
from .. import schemas
from ..auth import AnyClaimant, Context, CurrentToken, EnrolClaimant
from ..features_in import (
    FRAMES_TYPE,
    feature_request_body,
    read_feature_body,
    utterance_from_binary,
    utterance_from_json,
)
from ..middleware import StrictJSONRoute
from ..schemas import FeatureConfigOut, UtteranceIn

router = APIRouter(prefix="/api/v1", tags=["enrolment"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get("/feature-config", summary="The feature configuration clients must compute")
def feature_config(ctx: Context) -> FeatureConfigOut:
    policy = ctx.settings.voice
    return FeatureConfigOut(**ctx.voice.config.to_dict(), min_frames=policy.min_frames, max_frames=policy.max_frames)


async def _take_body(request: Request) -> UtteranceIn | bytes:
    return await read_feature_body(request, UtteranceIn)


@router.post(
    "/enrolment/utterances",
    status_code=status.HTTP_201_CREATED,
    summary="Add one enrolment take",
    description=f"The take as JSON (`UtteranceIn`) or in the binary form (`{FRAMES_TYPE}`).",
    responses={
        403: {"description": "A verify session cannot change enrolment", **_PROBLEM},
        415: {"description": f"Neither application/json nor {FRAMES_TYPE}", **_PROBLEM},
        422: {
            "description": "Invalid features, or the take was rejected (`reason`: too_short, "
            "too_quiet, wrong_digit); nothing is stored",
            **_PROBLEM,
        },
    },
    openapi_extra=feature_request_body(UtteranceIn),
    response_model=schemas.EnrolmentResult,
)
def add_take(
    token: EnrolClaimant, ctx: Context, body: Annotated[UtteranceIn | bytes, Depends(_take_body)]
) -> results.EnrolledTake:
    config, policy = ctx.voice.config, ctx.settings.voice
    if isinstance(body, bytes):
        take = utterance_from_binary(body, config, policy)
    else:
        take = utterance_from_json(body, config, policy)
    return enrolment.enrol(ctx, token.user_id, take)


@router.get("/enrolment/utterances", summary="My enrolment takes and progress", response_model=schemas.UtteranceList)
def list_takes(token: AnyClaimant, ctx: Context) -> results.Takes:
    return enrolment.list_takes(ctx, token.user_id)


@router.delete(
    "/enrolment/utterances/{utterance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one take (the model follows)",
    responses={
        403: {"description": "A verify session cannot change enrolment", **_PROBLEM},
        404: {"description": "No such take of mine", **_PROBLEM},
    },
)
def delete_take(
    utterance_id: Annotated[int, Path(ge=1, le=2**63 - 1)], token: EnrolClaimant, ctx: Context
) -> None:  # bounded: ids are 64-bit, larger numbers overflow the database driver (found by schemathesis)
    enrolment.delete_take(ctx, token.user_id, utterance_id)


@router.delete("/enrolment", status_code=status.HTTP_204_NO_CONTENT, summary="Delete all my takes and my model")
def reset(token: CurrentToken, ctx: Context) -> None:
    enrolment.reset(ctx, token.user_id)
