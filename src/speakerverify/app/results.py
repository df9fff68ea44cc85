"""What the use cases return: plain dataclasses, named and shaped like the API's response bodies
(``http/schemas.py`` validates them on the way out), so no use case needs pydantic or HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..voice.decision import SegmentScore

Mode = Literal["provisional", "deployment"]


@dataclass(frozen=True)
class Progress:
    """Enrolment progress: stored takes of digits 0..9, the required count, percent complete, ready."""

    takes_per_digit: list[int]
    required_takes_per_digit: int
    percent: int
    ready: bool


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: int
    token_type: Literal["bearer"] = "bearer"


@dataclass(frozen=True)
class Demographic:
    gender: str | None = None
    age_group: str | None = None


@dataclass(frozen=True)
class Profile:
    id: str
    email: str
    alias: str
    demographic: Demographic | None
    data_statement_version: str
    consented_at: datetime
    created_at: datetime
    enrolment: Progress


@dataclass(frozen=True)
class Take:
    utterance_id: int
    digit: int
    n_frames: int
    speech_frames: int
    created_at: datetime
    verdict: Literal["accepted"] = "accepted"


@dataclass(frozen=True, kw_only=True)
class EnrolledTake(Take):
    progress: Progress


@dataclass(frozen=True)
class Takes:
    utterances: list[Take]
    progress: Progress


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    digits: list[int]
    expires_at: datetime


@dataclass(frozen=True)
class Verification:
    attempt_id: int
    decision: Literal["accept", "reject"]
    score: float | None
    threshold: float
    target_far: float
    digits_match: bool
    calibration: Mode
    per_digit: list[SegmentScore]
    replay_detected: bool = False


@dataclass(frozen=True)
class Attempt:
    attempt_id: int
    created_at: datetime
    decision: str
    score: float | None
    threshold: float | None
    digits: list[int]
    digits_match: bool | None
    calibration: str | None


@dataclass(frozen=True)
class Attempts:
    attempts: list[Attempt]


@dataclass(frozen=True)
class ScoreSummary:
    trials: int
    accepts: int
    mean_score: float | None


@dataclass(frozen=True)
class ImpostorRow:
    alias: str
    trials: int
    false_accepts: int
    mean_score: float | None


@dataclass(frozen=True)
class IntrusionReport:
    threshold: float
    calibration: Mode
    k: int
    reference: ScoreSummary
    impostors: list[ImpostorRow] = field(default_factory=list)


@dataclass(frozen=True)
class BenchmarkReport:
    k: int
    reference: ScoreSummary
    others: list[ImpostorRow] = field(default_factory=list)
