"""The framework's floor for the performance benchmark (not part of the product): a bare FastAPI app that
takes the same two requests as a verification (challenge, then answer) and parses the same bodies into
typed arrays, with no authentication check, scoring or database.

The answer is read in both forms the service accepts: JSON (``VerificationIn``, the service's own
pydantic schema, base64 float32 fields decoded to arrays) and the binary frames form (header validated
with ``AnswerHeader``, float16 arrays viewed in place). Whatever the service does beyond this is its own
cost, so ``perf_http.py`` reports every row as a ratio to this app's throughput in the same run.

    uvicorn --factory floor_app:create_app
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import uuid
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, status

from speakerverify.http.schemas import AnswerHeader, VerificationIn


def _json_arrays(body: VerificationIn) -> list[tuple[int, np.ndarray, np.ndarray]]:
    out = []
    for seg in body.segments:
        energy = np.frombuffer(base64.b64decode(seg.energy_b64 or ""), "<f4")
        mfcc = np.frombuffer(base64.b64decode(seg.mfcc_b64 or ""), "<f4").reshape(len(energy), 13)
        out.append((seg.digit, mfcc, energy))
    return out


def _binary_arrays(raw: bytes) -> list[tuple[int, np.ndarray, np.ndarray]]:
    (size,) = struct.unpack_from("<I", raw, 4)
    header = AnswerHeader.model_validate(json.loads(raw[8 : 8 + size]))
    offset, out = 8 + size, []
    for seg in header.segments:
        mfcc = np.frombuffer(raw, "<f2", seg.frames * 13, offset).reshape(seg.frames, 13)
        offset += seg.frames * 26
        energy = np.frombuffer(raw, "<f2", seg.frames, offset)
        offset += seg.frames * 2
        out.append((seg.digit, mfcc.astype(np.float32), np.expm1(energy.astype(np.float32))))
    return out


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/challenges", status_code=status.HTTP_201_CREATED)
    def challenge() -> dict[str, Any]:
        digits = secrets.SystemRandom().sample(range(10), 5)
        return {"challenge_id": str(uuid.uuid4()), "digits": digits, "expires_at": "2100-01-01T00:00:00Z"}

    @app.post("/api/v1/verifications")
    async def verify(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            segments = _json_arrays(VerificationIn.model_validate_json(raw))
        else:
            segments = _binary_arrays(raw)
        frames = sum(len(e) for _, _, e in segments)
        return {"attempt_id": frames, "decision": "reject", "reason": "voice_not_matched"}

    return app
