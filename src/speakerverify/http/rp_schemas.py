"""Request and response bodies of the relying-party routes (pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..app.rp_sessions import NONCE_PATTERN, SUBJECT_PATTERN
from .schemas import EnrolmentProgressOut


class RpSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    subject: str = Field(
        pattern=SUBJECT_PATTERN,
        description="The application's own id of its user (1-128 of A-Z a-z 0-9 . _ ~ @ + : = -); no email or "
        "password is needed. Namespaced per application.",
    )
    purpose: Literal["enrol", "verify"]
    nonce: str = Field(
        pattern=NONCE_PATTERN, description="The application's nonce (1-128 visible ASCII); echoed in the result."
    )


class RpSessionOut(BaseModel):
    session_token: str = Field(description="For the browser: `Authorization: Bearer <session_token>`.")
    expires_at: datetime
    subject_state: Literal["new", "enrolling", "ready"]


class RpSubjectOut(BaseModel):
    subject: str
    subject_state: Literal["new", "enrolling", "ready"]
    progress: EnrolmentProgressOut


class RpResultOut(BaseModel):
    jti: str
    subject: str
    nonce: str
    decision: Literal["accept", "reject"]
    reason: str
    issued_at: datetime
    result_token: str = Field(description="The same compact JWS the verification answer carried.")


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(description="RFC 7517 public keys (ES256, with `kid`).")
