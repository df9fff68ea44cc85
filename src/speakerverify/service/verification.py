"""Challenges and verifications: prompted digits, content check, calibrated decision, attempt log."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Literal

import numpy as np

from ..features import postprocess
from ..models.digits import content_margin, digit_scores
from ..storage import attempts, challenges, utterances
from ..storage.challenges import Consumed
from ..storage.tables import Challenge, utcnow
from . import lockout
from .calibration import calibrate
from .context import AppContext
from .enrolment import ensure_current, progress_out
from .features_in import DigitFrames
from .problems import ProblemError
from .schemas import AttemptList, AttemptOut, ChallengeOut, DigitResult, VerificationOut


def _not_ready(ctx: AppContext, user_id: uuid.UUID) -> ProblemError:
    with ctx.db.read_session() as session:
        progress = utterances.enrolment_progress(session, user_id, ctx.settings.voice.takes_per_digit)
    return ProblemError(
        409,
        f"Enrolment is {progress.percent}% complete; {progress.required_per_digit} takes of every digit are needed "
        "before verifying.",
        slug="enrolment-not-ready",
        title="Enrolment not ready",
        extra={"progress": progress_out(progress).model_dump()},
    )


def _ready(ctx: AppContext, user_id: uuid.UUID) -> bool:
    with ctx.db.read_session() as session:
        current = ctx.voice.speaker(session, user_id)
        if current is not None:  # a model against the active UBM: its take counts say it all
            return bool(current.takes.min() >= ctx.settings.voice.takes_per_digit)
    with ctx.db.write_session() as session:  # no model, or one against another UBM: rebuild first
        ensure_current(session, ctx, user_id)
        progress = utterances.enrolment_progress(session, user_id, ctx.settings.voice.takes_per_digit)
    return progress.ready


def new_challenge(ctx: AppContext, user_id: uuid.UUID) -> ChallengeOut:
    policy = ctx.settings.voice
    lockout.check_open(ctx, user_id)  # 429 while locked after repeated rejections
    if not _ready(ctx, user_id):
        raise _not_ready(ctx, user_id)
    calibrate(ctx, user_id)  # done now, while the user reads the prompt, so the answer is fast
    digits = secrets.SystemRandom().sample(range(10), policy.challenge_digits)
    expires = utcnow() + timedelta(seconds=policy.challenge_ttl_seconds)
    with ctx.db.write_session() as session:
        row = challenges.create_challenge(session, user_id, digits, expires)
        return ChallengeOut(challenge_id=str(row.id), digits=digits, expires_at=row.expires_at)


def _challenge_problem(state: Consumed) -> ProblemError:
    if state is Consumed.USED:
        return ProblemError(409, "This challenge has already been answered; request a new one.", slug="challenge-used")
    if state is Consumed.EXPIRED:
        return ProblemError(410, "This challenge has expired; request a new one.", slug="challenge-expired")
    return ProblemError(404, "No such challenge for this account.", slug="challenge-not-found")


def verify(ctx: AppContext, user_id: uuid.UUID, challenge: str, segments: list[DigitFrames]) -> VerificationOut:
    """Answer ``challenge`` (its id) with one validated segment per prompted digit."""
    rt, policy = ctx.voice, ctx.settings.voice
    arrays = [(s.mfcc, s.energy) for s in segments]
    try:
        challenge_id = uuid.UUID(challenge)
    except ValueError:
        raise _challenge_problem(Consumed.UNKNOWN) from None
    with ctx.db.read_session() as session:
        pending = session.get(Challenge, challenge_id)
        if pending is None or pending.user_id != user_id:
            raise _challenge_problem(Consumed.UNKNOWN)
        if len(segments) != len(pending.digits):
            raise ProblemError(
                422,
                f"The challenge prompts {len(pending.digits)} digits; send one segment for each, in order.",
                slug="segment-count",
            )
        if pending.used_at is not None:
            raise _challenge_problem(Consumed.USED)
        if pending.expires_at <= utcnow():
            raise _challenge_problem(Consumed.EXPIRED)
        prompted = [int(c) for c in pending.digits]
        model = rt.speaker(session, user_id)
    if model is None:
        raise _not_ready(ctx, user_id)
    replayed = lockout.begin_attempt(ctx, user_id, challenge_id, prompted, arrays)  # 429 if locked
    calib = calibrate(ctx, user_id)
    gmm = rt.ubm.gmm
    per_digit: list[DigitResult] = []
    total, frames = 0.0, 0
    for seg, (mfcc, energy), digit in zip(segments, arrays, prompted, strict=True):
        feats = postprocess(mfcc, energy, rt.post)
        if len(feats) < policy.min_speech_frames:
            per_digit.append(
                DigitResult(digit=digit, n_frames=len(feats), score=None, content_ok=False, content_margin=None)
            )
            continue
        scores = digit_scores(gmm, model.digit_means, feats, rt.adaptation.top_c)
        margin = content_margin(scores, digit)
        ok = seg.digit == digit and margin >= -policy.content_margin
        per_digit.append(
            DigitResult(
                digit=digit, n_frames=len(feats), score=float(scores[digit]), content_ok=ok, content_margin=margin
            )
        )
        total += float(scores[digit]) * len(feats)
        frames += len(feats)
    digits_match = all(r.content_ok for r in per_digit)
    score = calib.normalise(total / frames) if frames else float("-inf")
    accept = digits_match and not any(replayed) and score >= calib.threshold
    decision: Literal["accept", "reject"] = "accept" if accept else "reject"
    detail = {
        "digits": prompted,
        "digits_match": digits_match,
        "calibration": calib.mode,
        "raw_score": total / frames if frames else None,
        "target_far": policy.target_far,
        "per_digit": [r.model_dump() for r in per_digit],
        "replay": replayed,
    }
    # One write transaction: the conditional UPDATE consumes the challenge, so of concurrent answers
    # exactly one is recorded; the others roll back and get 409.
    with ctx.db.write_session() as session:
        state, _ = challenges.consume_challenge(session, challenge_id, user_id)
        if state is not Consumed.OK:
            raise _challenge_problem(state)
        row = attempts.record_attempt(
            session,
            user_id,
            challenge_id=challenge_id,
            ubm_id=rt.ubm.ubm_id,
            model_version=model.version,
            n_frames=frames,
            score=score if np.isfinite(score) else None,
            threshold=calib.threshold,
            decision=decision,
            detail=detail,
        )
        attempt_id = row.id
        lockout.settle(session, policy, user_id, accept)
    return VerificationOut(
        attempt_id=attempt_id,
        decision=decision,
        score=score if np.isfinite(score) else -1e9,
        threshold=calib.threshold,
        target_far=policy.target_far,
        digits_match=digits_match,
        calibration=calib.mode,  # type: ignore[arg-type]
        per_digit=per_digit,
        replay_detected=any(replayed),
    )


def attempt_log(ctx: AppContext, user_id: uuid.UUID) -> AttemptList:
    with ctx.db.read_session() as session:
        rows = attempts.list_attempts(session, user_id)
        return AttemptList(
            attempts=[
                AttemptOut(
                    attempt_id=r.id,
                    created_at=r.created_at,
                    decision=r.decision,
                    score=r.score,
                    threshold=r.threshold,
                    digits=list((r.detail or {}).get("digits", [])),
                    digits_match=(r.detail or {}).get("digits_match"),
                    calibration=(r.detail or {}).get("calibration"),
                )
                for r in rows
            ]
        )
