"""The feature configuration and enrolment takes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from .. import enrolment
from ..auth import Context, CurrentToken
from ..features_in import utterance_from_json
from ..middleware import StrictJSONRoute
from ..schemas import EnrolmentResult, FeatureConfigOut, UtteranceIn, UtteranceList

router = APIRouter(prefix="/api/v1", tags=["enrolment"], route_class=StrictJSONRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get("/feature-config", summary="The feature configuration clients must compute")
def feature_config(ctx: Context) -> FeatureConfigOut:
    policy = ctx.settings.voice
    return FeatureConfigOut(**ctx.voice.config.to_dict(), min_frames=policy.min_frames, max_frames=policy.max_frames)


@router.post(
    "/enrolment/utterances",
    status_code=status.HTTP_201_CREATED,
    summary="Add one enrolment take",
    responses={
        422: {
            "description": "Invalid features, or the take was rejected (`reason`: too_short, "
            "too_quiet, wrong_digit); nothing is stored",
            **_PROBLEM,
        }
    },
)
def add_take(body: UtteranceIn, token: CurrentToken, ctx: Context) -> EnrolmentResult:
    return enrolment.enrol(ctx, token.user_id, utterance_from_json(body, ctx.voice.config, ctx.settings.voice))


@router.get("/enrolment/utterances", summary="My enrolment takes and progress")
def list_takes(token: CurrentToken, ctx: Context) -> UtteranceList:
    return enrolment.list_takes(ctx, token.user_id)


@router.delete(
    "/enrolment/utterances/{utterance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one take (the model follows)",
    responses={404: {"description": "No such take of mine", **_PROBLEM}},
)
def delete_take(
    utterance_id: Annotated[int, Path(ge=1, le=2**63 - 1)], token: CurrentToken, ctx: Context
) -> None:  # bounded: ids are 64-bit, larger numbers overflow the database driver (found by schemathesis)
    enrolment.delete_take(ctx, token.user_id, utterance_id)


@router.delete("/enrolment", status_code=status.HTTP_204_NO_CONTENT, summary="Delete all my takes and my model")
def reset(token: CurrentToken, ctx: Context) -> None:
    enrolment.reset(ctx, token.user_id)
