"""Enrolment use cases: add a take (with its quality verdict), list, delete one, reset."""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..http.features_in import DigitFrames
from ..http.problems import ProblemError
from ..http.schemas import EnrolmentProgressOut, EnrolmentResult, UtteranceList, UtteranceOut
from ..models.digits import content_margin, segment_digit_scores
from ..models.speaker import SpeakerModel, utterance_stats
from ..storage import calibrations, speaker_models, utterances
from ..storage.tables import Utterance
from ..voice.runtime import VoiceRuntime
from . import replay
from .context import AppContext

# Frame energy of a full-scale sine through Meyda's window at int16 scale: 32768^2 * 0.5 * sum(w^2).
_FULL_SCALE_ENERGY = 32768.0**2 * 0.5 * 101.7408


def level_dbfs(energy: np.ndarray) -> float:
    """Loudest frame relative to a full-scale sine, in dB."""
    peak = float(np.max(energy)) if len(energy) else 0.0
    return 10 * np.log10(peak / _FULL_SCALE_ENERGY) if peak > 0 else float("-inf")


def _rejected(reason: str, detail: str) -> ProblemError:
    return ProblemError(
        422, detail, slug=f"take-{reason.replace('_', '-')}", title="Take rejected", extra={"reason": reason}
    )


def progress_out(progress: utterances.EnrolmentProgress) -> EnrolmentProgressOut:
    return EnrolmentProgressOut(
        takes_per_digit=list(progress.takes_per_digit),
        required_takes_per_digit=progress.required_per_digit,
        percent=progress.percent,
        ready=progress.ready,
    )


def take_features(rt: VoiceRuntime, row: Utterance) -> np.ndarray:
    mfcc, energy = utterances.utterance_arrays(row)
    return postprocess(mfcc, energy, rt.post)


def ensure_current(session: Session, ctx: AppContext, user_id: uuid.UUID) -> None:
    """Rebuild the user's model from the stored takes if it was adapted from another UBM (or is missing)."""
    rt = ctx.voice
    current = speaker_models.model_version(session, user_id)
    if current is not None and current[1] == rt.ubm.ubm_id:
        return
    rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == rt.config.config_id]
    if current is None and not rows:
        return
    gmm = rt.ubm.gmm
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for row in rows:
        model = model.add(row.digit, utterance_stats(gmm, take_features(rt, row)))
        row.stats_ubm_id = rt.ubm.ubm_id
    speaker_models.replace_model(session, user_id, rt.ubm.ubm_id, model, ctx.settings.voice.takes_per_digit)
    rt.forget(user_id)


def enrol(ctx: AppContext, user_id: uuid.UUID, take: DigitFrames) -> EnrolmentResult:
    """Store one validated take of ``take.digit`` and add it to the user's model."""
    rt, policy = ctx.voice, ctx.settings.voice
    mfcc, energy = take.mfcc, take.energy
    level = level_dbfs(energy)
    if level < policy.quiet_dbfs:
        raise _rejected("too_quiet", f"The take peaks at {level:.0f} dBFS; speak louder or closer to the microphone.")
    feats = postprocess(mfcc, energy, rt.post)
    if len(feats) < policy.min_speech_frames:
        raise _rejected(
            "too_short", f"Only {len(feats)} frames of speech (10 ms each); at least {policy.min_speech_frames} needed."
        )
    gmm = rt.ubm.gmm
    stats = utterance_stats(gmm, feats)
    with ctx.db.write_session() as session:
        # The content check reads the cached digit models; the statistics are read once, by update_model,
        # under its row lock. Version-checked like every cache read, so never a stale model.
        cached = rt.speaker(session, user_id)
        if cached is None:  # no model yet, or one against another UBM: rebuilt from the stored takes
            ensure_current(session, ctx, user_id)
            cached = rt.speaker(session, user_id)
        if cached is not None and np.all(cached.takes >= policy.enrol_check_after):
            scores = segment_digit_scores(gmm, cached.terms, [feats], rt.adaptation.top_c)[0]
            margin = content_margin(scores, take.digit)
            if margin < -policy.enrol_content_margin:
                heard = int(np.argmax(scores))
                raise _rejected(
                    "wrong_digit",
                    f"This take does not sound like {take.digit} to your other takes (closest: {heard}); "
                    "please say the prompted digit again.",
                )
        utt = utterances.add_utterance(session, user_id, take.digit, rt.config.config_id, mfcc, energy)
        utt.stats_ubm_id = rt.ubm.ubm_id
        replay.record_take(session, user_id, utt.id, take.digit, mfcc, energy)  # for replay detection
        speaker_models.update_model(
            session,
            user_id,
            rt.ubm.ubm_id,
            gmm.n_components,
            gmm.dim,
            lambda m: m.add(take.digit, stats),
            policy.takes_per_digit,
        )
        progress = utterances.enrolment_progress(session, user_id, policy.takes_per_digit)
        return EnrolmentResult(
            utterance_id=utt.id,
            digit=utt.digit,
            n_frames=utt.n_frames,
            speech_frames=len(feats),
            created_at=utt.created_at,
            progress=progress_out(progress),
        )


def list_takes(ctx: AppContext, user_id: uuid.UUID) -> UtteranceList:
    rt, policy = ctx.voice, ctx.settings.voice
    with ctx.db.read_session() as session:
        rows = utterances.list_utterances(session, user_id)
        progress = utterances.enrolment_progress(session, user_id, policy.takes_per_digit)
        takes = [
            UtteranceOut(
                utterance_id=r.id,
                digit=r.digit,
                n_frames=r.n_frames,
                speech_frames=len(take_features(rt, r)),
                created_at=r.created_at,
            )
            for r in rows
        ]
    return UtteranceList(utterances=takes, progress=progress_out(progress))


def delete_take(ctx: AppContext, user_id: uuid.UUID, utterance_id: int) -> None:
    """Remove one take and subtract its statistics from the model (recomputed: they are deterministic)."""
    rt, policy = ctx.voice, ctx.settings.voice
    gmm = rt.ubm.gmm
    with ctx.db.write_session() as session:
        ensure_current(session, ctx, user_id)
        row = utterances.get_utterance(session, user_id, utterance_id, for_update=True)
        if row is None:
            raise ProblemError(404, f"You have no enrolment take with id {utterance_id}.", slug="not-found")
        stats = utterance_stats(gmm, take_features(rt, row))
        digit = row.digit
        session.delete(row)
        speaker_models.update_model(
            session,
            user_id,
            rt.ubm.ubm_id,
            gmm.n_components,
            gmm.dim,
            lambda m: m.remove(digit, stats),
            policy.takes_per_digit,
        )


def reset(ctx: AppContext, user_id: uuid.UUID) -> None:
    with ctx.db.write_session() as session:
        utterances.delete_utterances(session, user_id)
        speaker_models.delete_model(session, user_id)
        calibrations.delete_calibration(session, user_id)
    ctx.voice.forget(user_id)
