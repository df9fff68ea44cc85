"""Turning a feature payload into validated arrays, whatever its form: JSON numbers, base64 arrays inside
JSON, or the binary ``application/vnd.speakerverify.frames`` body (``features/wire.py``).

Every form ends in ``check_frames``, one set of range checks; the routes read the body with
``read_feature_body``, which dispatches on the content type.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

import numpy as np
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from ..app.errors import InvalidInput
from ..app.frames import DigitFrames, check_config_id, check_frames, pointer
from ..config import VoicePolicy
from ..features import FeatureConfig, wire
from .middleware import strict_json
from .problems import ProblemError
from .schemas import FRAMES_DOC, AnswerHeader, FeatureArrays, TakeHeader, UtteranceIn, VerificationIn

FRAMES_TYPE = wire.CONTENT_TYPE
M = TypeVar("M", bound=BaseModel)


def _invalid(field: list[Any], message: str) -> InvalidInput:
    return InvalidInput(message, pointer(field))


def _from_b64(text: str, dtype: str, field: list[Any]) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, "not valid base64") from None
    item = np.dtype("<f2" if dtype == "float16" else "<f4")
    if len(raw) % item.itemsize:
        raise _invalid(field, f"{len(raw)} bytes is not a whole number of {dtype} values")
    return np.frombuffer(raw, dtype=item).astype(np.float32)


def decode_features(
    payload: FeatureArrays, config: FeatureConfig, policy: VoicePolicy, where: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(mfcc (T, n_mfcc) float32, energy (T,) float32) of a JSON-form utterance, or InvalidInput naming
    the field and the fault."""
    json_form = payload.mfcc is not None or payload.energy is not None
    b64_form = payload.mfcc_b64 is not None or payload.energy_b64 is not None
    if json_form == b64_form:
        raise _invalid(where, "send either mfcc and energy, or mfcc_b64 and energy_b64")
    if json_form:
        if payload.mfcc is None or payload.energy is None:
            raise _invalid(where, "mfcc and energy are both required")
        bad = next((i for i, row in enumerate(payload.mfcc) if len(row) != config.n_mfcc), None)
        if bad is not None:
            raise _invalid([*where, "mfcc", bad], f"each frame needs {config.n_mfcc} coefficients")
        mfcc = np.array(payload.mfcc, dtype=np.float64).reshape(-1, config.n_mfcc)
        energy = np.array(payload.energy, dtype=np.float64)
    else:
        if payload.mfcc_b64 is None or payload.energy_b64 is None:
            raise _invalid(where, "mfcc_b64 and energy_b64 are both required")
        flat = _from_b64(payload.mfcc_b64, payload.dtype, [*where, "mfcc_b64"])
        energy = _from_b64(payload.energy_b64, "float32", [*where, "energy_b64"]).astype(np.float64)
        if len(flat) != len(energy) * config.n_mfcc:
            raise _invalid(where, f"mfcc_b64 holds {len(flat)} values, expected {len(energy)} frames x {config.n_mfcc}")
        mfcc = flat.astype(np.float64).reshape(-1, config.n_mfcc)
    return check_frames(mfcc, energy, policy, where)


def utterance_from_json(body: UtteranceIn, config: FeatureConfig, policy: VoicePolicy) -> DigitFrames:
    check_config_id(body.config_id, config)
    return DigitFrames(body.digit, *decode_features(body, config, policy, []))


def segments_from_json(body: VerificationIn, config: FeatureConfig, policy: VoicePolicy) -> list[DigitFrames]:
    check_config_id(body.config_id, config)
    return [
        DigitFrames(seg.digit, *decode_features(seg, config, policy, ["segments", i]))
        for i, seg in enumerate(body.segments)
    ]


# --- the binary form ------------------------------------------------------------------------------


def _validate(model: type[M], data: Any) -> M:
    """``model`` from parsed JSON, its errors raised as FastAPI's (so they render like every body's 422)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def _split(raw: bytes) -> tuple[dict[str, Any], memoryview]:
    try:
        return wire.split(raw)
    except wire.WireError as exc:
        raise InvalidInput(exc.message, exc.pointer) from None


def _arrays(
    data: memoryview, frames: list[int], config: FeatureConfig, where: list[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        return wire.decode_arrays(data, frames, config.n_mfcc, where)
    except wire.WireError as exc:
        raise InvalidInput(exc.message, exc.pointer) from None


def utterance_from_binary(raw: bytes, config: FeatureConfig, policy: VoicePolicy) -> DigitFrames:
    """An enrolment take in the binary form -> DigitFrames (mfcc (T, n_mfcc), energy (T,) float32), or 422."""
    header, data = _split(raw)
    meta = _validate(TakeHeader, header)
    check_config_id(meta.config_id, config)
    ((mfcc, energy),) = _arrays(data, [meta.frames], config, [""])
    return DigitFrames(meta.digit, *check_frames(mfcc, energy, policy, []))


def segments_from_binary(raw: bytes, config: FeatureConfig, policy: VoicePolicy) -> tuple[str, list[DigitFrames]]:
    """A verification answer in the binary form -> (challenge_id, one DigitFrames per segment), or 422."""
    header, data = _split(raw)
    meta = _validate(AnswerHeader, header)
    check_config_id(meta.config_id, config)
    where = [f"/segments/{i}" for i in range(len(meta.segments))]
    arrays = _arrays(data, [seg.frames for seg in meta.segments], config, where)
    return meta.challenge_id, [
        DigitFrames(seg.digit, *check_frames(mfcc, energy, policy, ["segments", i]))
        for i, (seg, (mfcc, energy)) in enumerate(zip(meta.segments, arrays, strict=True))
    ]


# --- reading the body -----------------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    # What FastAPI parses as JSON: application/json and application/*+json.
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_feature_body(request: Request, model: type[M]) -> M | bytes:
    """The body of a feature upload: a JSON body validated as ``model`` (parsed by ``strict_json``, failing
    exactly as a declared FastAPI body would: 400 malformed JSON, 422 with pointers), the raw bytes of an
    ``application/vnd.speakerverify.frames`` body (decoded by the caller), or a 415 problem for any other type.
    """
    media_type = _media_type(request)
    if media_type == FRAMES_TYPE:
        return await request.body()
    if not _is_json(media_type):
        raise ProblemError(
            415,
            f"send the features as application/json or {FRAMES_TYPE}, not {media_type or 'no content type'}",
            slug="unsupported-media-type",
            title="Unsupported media type",
            headers={"Accept-Post": f"application/json, {FRAMES_TYPE}"},
        )
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        data = strict_json(raw)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}], body=exc.doc) from None
    return _validate(model, data)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its nested models written out in place (no ``$defs``, no ``$ref``)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return dict(_inline(schema, defs))


def feature_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting both request forms: ``model`` as JSON, and the binary form.

    The routes read their body themselves (``read_feature_body``), so FastAPI documents none; the JSON
    schema is inlined since it is not among the document's components.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": inline_schema(model)},
                FRAMES_TYPE: {"schema": {"type": "string", "format": "binary", "description": FRAMES_DOC}},
            },
        }
    }
