"""What the use cases return: plain dataclasses, named and shaped like the API's response bodies
(``http/schemas.py`` validates them on the way out), so no use case needs pydantic or HTTP.

``ScoreSummary``, ``ImpostorRow``, ``IntrusionReport`` and ``BenchmarkReport`` carry scores and aliases:
they are for operator commands only, never an API response (a score is an oracle to steer an attack by)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..voice.decision import Reason

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
class Suspect:
    """Why a stored take is kept out of the model until it is re-recorded: ``code`` is stable."""

    code: Literal["wrong_digit"]
    detail: str


@dataclass(frozen=True, kw_only=True)
class Take:
    utterance_id: int
    digit: int
    n_frames: int
    speech_frames: int
    created_at: datetime
    verdict: Literal["accepted"] = "accepted"
    suspect: Suspect | None = None


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
    """What a claimant learns of an answer: the decision and a reason code, nothing numeric about it
    (scores, threshold and margins stay in the audit log, for the operator)."""

    attempt_id: int
    decision: Literal["accept", "reject"]
    reason: Reason
    result_token: str | None = None  # an application's verify session only: the signed result
    snr_db: int | None = None  # the answer's measured SNR (dB, rounded), only with reason too_noisy
    advice: str | None = None  # what to do, only with reason too_noisy


@dataclass(frozen=True)
class Attempt:
    attempt_id: int
    created_at: datetime
    decision: Literal["accept", "reject"]
    reason: Reason


@dataclass(frozen=True)
class Attempts:
    attempts: list[Attempt]


# --- analysis: the claimant's aggregate view, and the operator's full tables -----------------------


@dataclass(frozen=True)
class TrialCounts:
    """How many trials were run and how many the decision rule would accept: counts only."""

    trials: int
    would_pass: int


@dataclass(frozen=True)
class AnalysisSummary:
    """What a user may see of an analysis: how many other voices took part, anonymously and in aggregate."""

    k: int
    other_voices: int
    others: TrialCounts
    own: TrialCounts


@dataclass(frozen=True)
class StoredTable:
    table: str
    rows: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class StoredSummary:
    """What is stored about a user, without the stored values: rows per table, oldest and newest."""

    tables: list[StoredTable]
    export_needs_verification_within_seconds: int


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
