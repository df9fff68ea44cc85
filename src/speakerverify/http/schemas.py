"""Request and response bodies of the public API (pydantic v2)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..app.accounts import (
    ALIAS_MAX,
    ALIAS_MIN,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    AgeGroup,
    Gender,
    normalise_email,
)

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    # Unknown fields are errors: a misspelt "consent" must not pass silently. Strict: no coercion, so
    # "3" or true is not a digit and 1 or "true" is not consent (every request body and binary header).
    model_config = ConfigDict(extra="forbid", strict=True)


def _invisible_or_control(value: str) -> str | None:
    """The first character that has no business in an address: controls (Cc: NUL, newlines), format
    characters (Cf: bidi overrides and isolates, zero-width spaces and joiners, BOM), separators other
    than nothing (Z*: already refused by the address syntax, named here for a clear message)."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"):
            return f"U+{ord(ch):04X}"
    return None


def valid_email(value: str) -> str:
    """The address, normalised (NFC, lower-case) and checked by email-validator (syntax only, no DNS)."""
    bad = _invisible_or_control(value.strip(" "))  # before str.strip, which would drop some of them silently
    value = normalise_email(value)
    if bad is not None:
        raise ValueError(f"not a valid email address: it contains the invisible or control character {bad}")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return normalise_email(checked.normalized)


class Demographic(_Strict):
    gender: Gender | None = None
    age_group: AgeGroup | None = None


class RegisterRequest(_Strict):
    email: str = Field(max_length=EMAIL_MAX, examples=["ada@example.org"])
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    alias: str = Field(
        min_length=ALIAS_MIN,
        max_length=ALIAS_MAX,
        description="Public name: letters, digits, '.', '_' and '-', starting with a letter or digit; "
        "unique regardless of case.",
        examples=["ada_l"],
    )
    demographic: Demographic | None = None
    consent: bool = Field(description="Must be true: you agree to the data statement (GET /api/v1/data-statement).")
    data_statement_version: str | None = Field(
        default=None, max_length=32, description="The version the user was shown; refused if no longer current."
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return valid_email(value)

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not _ALIAS.match(value):
            raise ValueError("use letters, digits, '.', '_' and '-' only, starting with a letter or digit")
        return value

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("you must agree to the data statement to register")
        return value


class LoginRequest(_Strict):
    # Deliberately not validated beyond size: a malformed email gets the same answer as a wrong password.
    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class PasswordChange(_Strict):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class EnrolmentProgressOut(BaseModel):
    takes_per_digit: list[int] = Field(description="Stored enrolment takes of digits 0..9.")
    required_takes_per_digit: int
    percent: int = Field(description="0-100: share of the required takes present.")
    ready: bool


class Profile(BaseModel):
    id: str
    email: str
    alias: str
    demographic: Demographic | None
    data_statement_version: str
    consented_at: datetime
    created_at: datetime
    enrolment: EnrolmentProgressOut


class StatementSection(BaseModel):
    id: str
    title: str
    text: str


class DataStatement(BaseModel):
    version: str
    sections: list[StatementSection]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


# --- features, enrolment and verification -------------------------------------------------------

FEATURES_DOC = (
    "Raw Meyda frames of one utterance, either as JSON numbers (`mfcc`: T rows of 13, `energy`: T values) "
    "or in the compact form: `mfcc_b64`, base64 of T*13 little-endian `dtype` values (row-major; `dtype` "
    "float32, the default, or float16), and `energy_b64`, base64 of T little-endian float32 values (energies "
    "at int16 scale exceed float16's range). Exactly one form per utterance."
)


class FeatureArrays(_Strict):
    mfcc: list[list[float]] | None = Field(default=None, description="T rows of n_mfcc coefficients.")
    energy: list[float] | None = Field(default=None, description="T Meyda energies.")
    mfcc_b64: str | None = Field(default=None, description="base64 of T*n_mfcc little-endian `dtype` values.")
    energy_b64: str | None = Field(default=None, description="base64 of T little-endian float32 values.")
    dtype: Literal["float32", "float16"] = Field(default="float32", description="Element type of mfcc_b64.")


class UtteranceIn(FeatureArrays):
    __doc__ = FEATURES_DOC
    config_id: str = Field(max_length=64, description="Must equal GET /api/v1/feature-config's config_id.")
    digit: int = Field(ge=0, le=9, description="The digit the user was prompted to say.")


class SegmentIn(FeatureArrays):
    __doc__ = FEATURES_DOC
    digit: int = Field(ge=0, le=9, description="The prompted digit this segment answers.")


class VerificationIn(_Strict):
    challenge_id: str = Field(max_length=64)
    config_id: str | None = Field(default=None, max_length=64, description="Optional; checked when given.")
    segments: list[SegmentIn] = Field(min_length=1, max_length=8, description="One per prompted digit, in order.")


# The binary form (application/vnd.speakerverify.frames, see features/wire.py): its JSON header says what
# the float16 arrays after it are; the same constraints as the JSON form, with a frame count T per utterance.

FRAMES_DOC = (
    "The compact binary form: `SVF1`, a uint32 little-endian header length H, H bytes of UTF-8 JSON header "
    "(a take: `{config_id, digit, frames}`; an answer: `{challenge_id, config_id?, segments: [{digit, frames}]}`), "
    "then for the take or each segment in order T x n_mfcc float16 MFCCs (row-major) and T float16 values of "
    "ln(1 + energy), all little-endian; the length must match exactly."
)


class TakeHeader(_Strict):
    """The header of an enrolment take in the binary form."""

    config_id: str = Field(max_length=64)
    digit: int = Field(ge=0, le=9)
    frames: int = Field(ge=0, strict=True, description="T: frames in the arrays that follow.")


class SegmentHeader(_Strict):
    digit: int = Field(ge=0, le=9)
    frames: int = Field(ge=0, strict=True, description="T: frames of this segment's arrays.")


class AnswerHeader(_Strict):
    """The header of a verification answer in the binary form."""

    challenge_id: str = Field(max_length=64)
    config_id: str | None = Field(default=None, max_length=64)
    segments: list[SegmentHeader] = Field(min_length=1, max_length=8)


class FeatureConfigOut(BaseModel):
    config_id: str
    sample_rate: int
    frame_size: int
    hop_size: int
    mel_bands: int
    n_mfcc: int
    window: str
    input_scale: float
    min_frames: int
    max_frames: int


class SuspectOut(BaseModel):
    code: Literal["wrong_digit"]
    detail: str = Field(description="Which digit the take sounds like, and that it should be re-recorded.")


class UtteranceOut(BaseModel):
    utterance_id: int
    digit: int
    n_frames: int
    speech_frames: int
    created_at: datetime
    verdict: Literal["accepted"] = "accepted"
    suspect: SuspectOut | None = Field(
        description="null, or why this stored take contradicts your other takes: it is left out of your "
        "model and progress until deleted and recorded again (or until later takes show it was right)."
    )


class EnrolmentResult(UtteranceOut):
    progress: EnrolmentProgressOut


class UtteranceList(BaseModel):
    utterances: list[UtteranceOut]
    progress: EnrolmentProgressOut


class ChallengeOut(BaseModel):
    challenge_id: str
    digits: list[int]
    expires_at: datetime


Reason = Literal[
    "accepted", "too_short", "replay_suspected", "too_noisy", "digits_not_matched", "voice_not_matched", "not_speech"
]

REASON_DOC = (
    "Why, as a code to act on (first that applies): `too_short` a digit had too little speech to judge, "
    "`replay_suspected` a digit sounded like a recording of an earlier take or answer, `too_noisy` there was "
    "too much noise to judge the voice at the promised false-accept rate (`snr_db` and `advice` say how noisy "
    "and what to do), `digits_not_matched` "
    "a digit heard was not the one asked for, `voice_not_matched` the voice was not recognised; `accepted` "
    "otherwise. A locked account (429 `locked-out`) and input that is not speech (422 `not-speech`) are "
    "problems, not decisions; a not-speech answer still appears in the attempt list as `not_speech`. "
    "Nothing numeric is returned: a score would be an oracle to steer an attack by."
)


class VerificationOut(BaseModel):
    attempt_id: int
    decision: Literal["accept", "reject"]
    reason: Reason = Field(description=REASON_DOC)
    result_token: str | None = Field(
        None,
        description="Only in an application's verify session: the signed result (compact JWS, ES256; "
        "keys at /.well-known/jwks.json) for the application's backend.",
    )
    snr_db: int | None = Field(
        default=None, description="With `too_noisy` only: the answer's measured signal-to-noise ratio, dB."
    )
    advice: str | None = Field(default=None, description="With `too_noisy` only: what to do, in a sentence.")


class AttemptOut(BaseModel):
    attempt_id: int
    created_at: datetime
    decision: Literal["accept", "reject"]
    reason: Reason


class AttemptList(BaseModel):
    attempts: list[AttemptOut]


class TrialCounts(BaseModel):
    trials: int
    would_pass: int = Field(description="Trials the decision rule would accept.")


class AnalysisSummary(BaseModel):
    """Aggregate and anonymous: no alias, score or threshold of anyone."""

    k: int = Field(description="Digits per trial.")
    other_voices: int = Field(description="Other enrolled voices that took part.")
    others: TrialCounts = Field(description="All trials against the other voices, together.")
    own: TrialCounts = Field(description="My own held-out (leave-out) takes against my model.")


class StoredTable(BaseModel):
    table: str = Field(description="What kind of data, e.g. utterances (enrolment takes) or verification_attempts.")
    rows: int
    first: datetime | None = Field(description="Oldest row's creation time, where the table records one.")
    last: datetime | None


class StoredSummary(BaseModel):
    tables: list[StoredTable] = Field(description="What is stored about me, per table: counts and dates.")
    export_needs_verification_within_seconds: int = Field(
        description="GET /me/export needs a voice verification accepted in this session at most this long ago."
    )
