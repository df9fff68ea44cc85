"""Challenges and verifications: prompted digits, content check, calibrated decision, attempt log."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..features.quality import estimate_quality
from ..models import replay as replay_maths
from ..models.scoring import align
from ..storage import attempts, challenges, utterances
from ..storage.challenges import Consumed
from ..storage.tables import utcnow
from ..voice.decision import REASONS, AnswerScore, Calibration, Decision, Reason, decide, reason, score_answer
from ..voice.plausible import implausible
from . import limits, lockout, replay, results, timing
from .calibration import current_calibration, serving_calibration
from .context import AppContext
from .enrolment import ensure_current, progress_out
from .errors import ChallengeExpired, ChallengeUnknown, ChallengeUsed, DomainError, NotReady, NotSpeech, SegmentCount
from .frames import DigitFrames
from .results import Attempt, Attempts, Verification


def _not_ready(ctx: AppContext, user_id: uuid.UUID) -> NotReady:
    with ctx.db.read_session() as session:
        progress = utterances.enrolment_progress(session, user_id, ctx.settings.voice.takes_per_digit)
    return NotReady(
        f"Enrolment is {progress.percent}% complete; {progress.required_per_digit} takes of every digit are needed "
        "before verifying.",
        progress_out(progress),
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


@timing.request("challenge")
def new_challenge(ctx: AppContext, user_id: uuid.UUID) -> results.Challenge:
    policy = ctx.settings.voice
    with ctx.db.read_session() as session:  # the common case: one read, then one insert
        lockout.check_open(session, policy, user_id)  # refused while locked after repeated rejections
        with timing.timed("model"):
            model = ctx.voice.speaker(session, user_id)
        ready = model is not None and bool(model.takes.min() >= policy.takes_per_digit)
        current = current_calibration(ctx, session, user_id, model) if ready and model else None
    if model is None:  # no model against the active UBM: _ready rebuilds it if takes exist
        ready = _ready(ctx, user_id)
    if not ready:
        raise _not_ready(ctx, user_id)
    if current is None:
        serving_calibration(ctx, user_id)  # a user just ready: its own row now, while the prompt is read
    digits = secrets.SystemRandom().sample(range(10), policy.challenge_digits)
    expires = utcnow() + timedelta(seconds=policy.challenge_ttl_seconds)
    user_limits = ctx.settings.user_limits
    with ctx.db.write_session() as session:
        # Counted only once a challenge can be issued: a not-ready user's 409s cost nothing to retry.
        limits.count(session, "challenge", user_id, user_limits.challenges_per_hour)
        if secrets.randbelow(max(1, user_limits.purge_every)) == 0:  # now and then, not on every request
            challenges.purge_expired(session, user_id)
            if user_limits.attempt_retention_days > 0:
                cutoff = utcnow() - timedelta(days=user_limits.attempt_retention_days)
                attempts.purge_older(session, user_id, cutoff)
        challenge_id = challenges.insert_challenge(session, user_id, digits, expires)
        return results.Challenge(challenge_id=str(challenge_id), digits=digits, expires_at=expires)


def _challenge_error(state: Consumed) -> DomainError:
    if state is Consumed.USED:
        return ChallengeUsed()
    if state is Consumed.EXPIRED:
        return ChallengeExpired()
    return ChallengeUnknown()


def _pending_digits(session: Session, challenge_id: uuid.UUID, user_id: uuid.UUID, n_segments: int) -> list[int]:
    pending = challenges.pending(session, challenge_id)
    if pending is None or pending.user_id != user_id:
        raise _challenge_error(Consumed.UNKNOWN)
    if n_segments != len(pending.digits):
        raise SegmentCount(len(pending.digits))
    if pending.used_at is not None:
        raise _challenge_error(Consumed.USED)
    if pending.expires_at <= utcnow():
        raise _challenge_error(Consumed.EXPIRED)
    return [int(c) for c in pending.digits]


@timing.request("answer")
def verify(
    ctx: AppContext, user_id: uuid.UUID, challenge: str, segments: list[DigitFrames], token_jti: str | None = None
) -> Verification:
    """Answer ``challenge`` (its id) with one validated segment per prompted digit, in the session
    ``token_jti`` (recorded: an accept makes that session two-factor for a while).

    One read transaction gathers what the decision needs, the scoring runs outside any transaction, and
    one write transaction (``_settle``) records it.
    """
    rt, policy = ctx.voice, ctx.settings.voice
    try:
        challenge_id = uuid.UUID(challenge)
    except ValueError:
        raise ChallengeUnknown() from None
    with ctx.db.read_session() as session:
        prompted = _pending_digits(session, challenge_id, user_id, len(segments))
        lockout.check_open(session, policy, user_id)  # a locked user's answer is not even scored
        with timing.timed("model"):
            model = rt.speaker(session, user_id)
        calib = current_calibration(ctx, session, user_id, model) if model is not None else None
        before = replay.seen(session, user_id, prompted, model)
    if model is None:
        raise _not_ready(ctx, user_id)
    feats = [postprocess(s.mfcc, s.energy, rt.post) for s in segments]  # once: the gate's and the scoring's
    aligned = align(rt.ubm.gmm, np.concatenate(feats), rt.adaptation.top_c)  # once, all segments
    ll = np.split(aligned.ubm_ll, np.cumsum([len(f) for f in feats])[:-1])
    refused = [i for i, s in enumerate(segments) if implausible(rt, s.mfcc, s.energy, feats[i], ll[i]) is not None]
    if refused:
        _refuse_not_speech(ctx, user_id, challenge_id, prompted, refused)
    if calib is None:
        calib = serving_calibration(ctx, user_id)
    fps = [replay_maths.template(s.mfcc, s.energy) for s in segments]
    found = replay.distances(prompted, fps, before)
    quality = estimate_quality([s.energy for s in segments], mfcc=[s.mfcc for s in segments])
    answer = score_answer(
        rt.ubm.gmm,
        model.terms,
        prompted,
        [s.digit for s in segments],
        feats,
        policy.min_speech_frames,
        policy.content_margin,
        rt.adaptation.top_c,
        aligned,
    )
    scored = _Scored(user_id, challenge_id, prompted, model.version, calib, answer, token_jti, quality.snr_db)
    return _settle(ctx, scored, _Replay(fps, before, found))


TOO_NOISY_ADVICE = (
    "There was too much noise around you to recognise your voice reliably. Move somewhere quieter, or away "
    "from the noise (a fan, a television, other people talking), hold the microphone closer and try again."
)


def _refuse_not_speech(
    ctx: AppContext, user_id: uuid.UUID, challenge_id: uuid.UUID, prompted: list[int], segments: list[int]
) -> None:
    """Crafted frames are not scored, but the attempt counts: the challenge is used up, the attempt is
    logged and the lockout streak grows, so the plausibility check cannot be probed for free."""
    policy = ctx.settings.voice
    with ctx.db.write_session() as session:
        refusal = lockout.admit(session, policy, user_id)
        if refusal is None:
            state, _ = challenges.consume_challenge(session, challenge_id, user_id)
            if state is not Consumed.OK:
                raise _challenge_error(state)
            detail = {"digits": prompted, "reason": "not_speech", "segments": segments}
            attempts.insert_attempt(
                session,
                user_id,
                challenge_id=challenge_id,
                ubm_id=ctx.voice.ubm.ubm_id,
                model_version=None,
                n_frames=0,
                score=None,
                threshold=None,
                decision="reject",
                detail=detail,
            )
            lockout.settle(session, policy, user_id, False)
    if refusal is not None:
        raise refusal
    raise NotSpeech([f"#/segments/{i}" for i in segments])


@dataclass(frozen=True)
class _Scored:
    """An answer as scored outside any transaction: whose, to which challenge, against which model."""

    user_id: uuid.UUID
    challenge_id: uuid.UUID
    prompted: list[int]
    model_version: int
    calib: Calibration
    answer: AnswerScore
    token_jti: str | None
    snr_db: float  # the answer's measured SNR (features.quality), which picks its operating point


@dataclass(frozen=True)
class _Replay:
    """The answer's fingerprints, what was seen when it was read, and the distances found then."""

    fingerprints: list[np.ndarray]
    before: replay.Seen
    found: np.ndarray


def _settle(ctx: AppContext, scored: _Scored, rep: _Replay) -> Verification:
    """The one write transaction of an answer. Holding the user's lockout row, it re-checks replays against
    anything stored since the read, consumes the challenge, records the attempt and settles the streak."""
    policy = ctx.settings.voice
    user_id, challenge_id, calib, answer = scored.user_id, scored.challenge_id, scored.calib, scored.answer
    with ctx.db.write_session() as session:
        refusal = lockout.admit(session, policy, user_id)  # serialises this user's answers
        if refusal is None:
            keep = ctx.settings.user_limits.replay_answers_per_digit
            found = replay.settle_and_record(
                session, user_id, challenge_id, scored.prompted, rep.fingerprints, rep.before, rep.found, keep
            )
            decision = decide(answer, found, calib, replay_maths.REPLAY_THRESHOLD, scored.snr_db)
            # The conditional UPDATE consumes the challenge: of concurrent answers exactly one is recorded,
            # the others roll back and get ChallengeUsed.
            state, _ = challenges.consume_challenge(session, challenge_id, user_id)
            if state is not Consumed.OK:
                raise _challenge_error(state)
            attempt_id = _record(session, ctx, scored, decision)
            lockout.settle(session, policy, user_id, decision.accept)
    if refusal is not None:  # raised after the commit: a lock imposed by admit() must be kept
        raise refusal
    why = reason(answer, decision)
    return Verification(
        attempt_id=attempt_id,
        decision="accept" if decision.accept else "reject",
        reason=why,
        snr_db=round(scored.snr_db) if why == "too_noisy" else None,
        advice=TOO_NOISY_ADVICE if why == "too_noisy" else None,
    )


def _record(session: Session, ctx: AppContext, scored: _Scored, decision: Decision) -> int:
    """The attempt's audit row (scores stay here, for the operator); its id."""
    prompted, calib, answer = scored.prompted, scored.calib, scored.answer
    detail = {
        "digits": prompted,
        "digits_match": answer.digits_match,
        "calibration": calib.mode,
        "raw_score": answer.raw,
        "target_far": ctx.settings.voice.target_far,
        "per_digit": [asdict(s) for s in answer.segments],
        "replay": decision.replayed,
        "snr_db": round(scored.snr_db, 1),
        "reason": reason(answer, decision),
    }
    return attempts.insert_attempt(
        session,
        scored.user_id,
        challenge_id=scored.challenge_id,
        ubm_id=ctx.voice.ubm.ubm_id,
        model_version=scored.model_version,
        n_frames=answer.n_frames,
        score=decision.score,
        threshold=decision.threshold,
        decision="accept" if decision.accept else "reject",
        detail=detail,
        token_jti=scored.token_jti,
    )


def stored_reason(decision: str, detail: dict[str, Any] | None) -> Reason:
    """The reason of a recorded attempt; attempts recorded before reasons were are read from their detail
    with the same precedence as ``decision.reason``."""
    detail = detail or {}
    recorded = detail.get("reason")
    if recorded in REASONS:
        return recorded  # type: ignore[no-any-return]
    if decision == "accept":
        return "accepted"
    if any(s.get("score") is None for s in detail.get("per_digit", [])):
        return "too_short"
    if any(detail.get("replay", [])):
        return "replay_suspected"
    if detail.get("digits_match") is False:
        return "digits_not_matched"
    return "voice_not_matched"


def attempt_log(ctx: AppContext, user_id: uuid.UUID) -> Attempts:
    """The user's attempts: time, decision and reason only (the scores are the operator's)."""
    with ctx.db.read_session() as session:
        rows = attempts.list_attempts(session, user_id)
        return Attempts(
            attempts=[
                Attempt(
                    attempt_id=r.id,
                    created_at=r.created_at,
                    decision="accept" if r.decision == "accept" else "reject",
                    reason=stored_reason(r.decision, r.detail),
                )
                for r in rows
            ]
        )
