"""Challenges and verifications: prompted digits, content check, calibrated decision, attempt log."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Literal

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..models import replay_v1 as replay_maths
from ..models.digits import content_margin, segment_digit_scores
from ..storage import attempts, challenges, utterances
from ..storage.challenges import Consumed
from ..storage.tables import Challenge, utcnow
from . import lockout, replay
from .calibration import calibrate, current_calibration
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
    with ctx.db.read_session() as session:  # the common case: one read, then one insert
        lockout.check_open(session, policy, user_id)  # 429 while locked after repeated rejections
        model = ctx.voice.speaker(session, user_id)
        ready = model is not None and bool(model.takes.min() >= policy.takes_per_digit)
        current = current_calibration(ctx, session, user_id, model) if ready and model else None
    if model is None:  # no model against the active UBM: _ready rebuilds it if takes exist
        ready = _ready(ctx, user_id)
    if not ready:
        raise _not_ready(ctx, user_id)
    if current is None:
        calibrate(ctx, user_id)  # recomputed now, while the user reads the prompt, so the answer is fast
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


def _pending_digits(session: Session, challenge_id: uuid.UUID, user_id: uuid.UUID, n_segments: int) -> list[int]:
    pending = session.get(Challenge, challenge_id)
    if pending is None or pending.user_id != user_id:
        raise _challenge_problem(Consumed.UNKNOWN)
    if n_segments != len(pending.digits):
        raise ProblemError(
            422,
            f"The challenge prompts {len(pending.digits)} digits; send one segment for each, in order.",
            slug="segment-count",
        )
    if pending.used_at is not None:
        raise _challenge_problem(Consumed.USED)
    if pending.expires_at <= utcnow():
        raise _challenge_problem(Consumed.EXPIRED)
    return [int(c) for c in pending.digits]


def verify(ctx: AppContext, user_id: uuid.UUID, challenge: str, segments: list[DigitFrames]) -> VerificationOut:
    """Answer ``challenge`` (its id) with one validated segment per prompted digit.

    One read transaction gathers what the decision needs, the scoring runs outside any transaction, and
    one write transaction (holding the user's lockout row) re-checks replays against anything stored
    meanwhile, consumes the challenge, records the attempt and updates the lockout streak.
    """
    rt, policy = ctx.voice, ctx.settings.voice
    try:
        challenge_id = uuid.UUID(challenge)
    except ValueError:
        raise _challenge_problem(Consumed.UNKNOWN) from None
    with ctx.db.read_session() as session:
        prompted = _pending_digits(session, challenge_id, user_id, len(segments))
        lockout.check_open(session, policy, user_id)  # a locked user's answer is not even scored
        model = rt.speaker(session, user_id)
        calib = current_calibration(ctx, session, user_id, model) if model is not None else None
        before = replay.seen(session, user_id, prompted)
    if model is None:
        raise _not_ready(ctx, user_id)
    if calib is None:
        calib = calibrate(ctx, user_id)

    fps = [replay_maths.fingerprint(s.mfcc, s.energy) for s in segments]
    found = replay.distances(prompted, fps, before)
    feats = [postprocess(s.mfcc, s.energy, rt.post) for s in segments]
    enough = [len(f) >= policy.min_speech_frames for f in feats]
    scores = segment_digit_scores(
        rt.ubm.gmm, model.terms, [f if ok else f[:0] for f, ok in zip(feats, enough, strict=True)], rt.adaptation.top_c
    )
    per_digit: list[DigitResult] = []
    total, frames = 0.0, 0
    for seg, f, ok_len, row, digit in zip(segments, feats, enough, scores, prompted, strict=True):
        if not ok_len:
            per_digit.append(
                DigitResult(digit=digit, n_frames=len(f), score=None, content_ok=False, content_margin=None)
            )
            continue
        margin = content_margin(row, digit)
        ok = seg.digit == digit and margin >= -policy.content_margin
        per_digit.append(
            DigitResult(digit=digit, n_frames=len(f), score=float(row[digit]), content_ok=ok, content_margin=margin)
        )
        total += float(row[digit]) * len(f)
        frames += len(f)
    digits_match = all(r.content_ok for r in per_digit)
    score = calib.normalise(total / frames) if frames else float("-inf")

    refusal: ProblemError | None = None
    with ctx.db.write_session() as session:
        refusal = lockout.admit(session, policy, user_id)  # serialises this user's answers; 429 if locked
        if refusal is None:
            found = replay.settle_and_record(session, user_id, challenge_id, prompted, fps, before, found)
            replayed = [bool(d < replay_maths.REPLAY_THRESHOLD) for d in found]
            accept = digits_match and not any(replayed) and score >= calib.threshold
            decision: Literal["accept", "reject"] = "accept" if accept else "reject"
            # The conditional UPDATE consumes the challenge: of concurrent answers exactly one is recorded,
            # the others roll back and get 409.
            state, _ = challenges.consume_challenge(session, challenge_id, user_id)
            if state is not Consumed.OK:
                raise _challenge_problem(state)
            detail = {
                "digits": prompted,
                "digits_match": digits_match,
                "calibration": calib.mode,
                "raw_score": total / frames if frames else None,
                "target_far": policy.target_far,
                "per_digit": [r.model_dump() for r in per_digit],
                "replay": replayed,
            }
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
    if refusal is not None:  # raised after the commit: a lock imposed by admit() must be kept
        raise refusal
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
