"""Enrolment use cases: add a take (with its quality verdict), list, delete one, reset."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..models.digits import content_margin, segment_digit_scores
from ..models.noisy_copies import take_stats
from ..models.speaker import SpeakerModel
from ..storage import calibrations, speaker_models, users, utterances
from ..voice.plausible import NOT_SPEECH, implausible
from ..voice.takes import level_dbfs, rebuild_model, row_stats, take_features
from . import replay
from .context import AppContext
from .errors import NotFound, TakeRejected
from .frames import DigitFrames
from .results import EnrolledTake, Progress, Take, Takes


def progress_out(progress: utterances.EnrolmentProgress) -> Progress:
    return Progress(
        takes_per_digit=list(progress.takes_per_digit),
        required_takes_per_digit=progress.required_per_digit,
        percent=progress.percent,
        ready=progress.ready,
    )


def ensure_current(session: Session, ctx: AppContext, user_id: uuid.UUID) -> None:
    """Rebuild the user's model from the stored takes if it was adapted from another UBM (or is missing)."""
    rt = ctx.voice
    current = speaker_models.model_version(session, user_id)
    if rt.holds(current):
        return
    users.lock_user(session, user_id)  # then look again: another writer may have rebuilt it meanwhile
    current = speaker_models.model_version(session, user_id)
    if rt.holds(current):
        return
    rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == rt.config.config_id]
    if current is None and not rows:
        return
    model = rebuild_model(rt.ubm.gmm, rows, rt.post, rt.recipe)
    for row in rows:
        row.stats_ubm_id = rt.ubm.ubm_id
    speaker_models.replace_model(
        session, user_id, rt.ubm.ubm_id, model, ctx.settings.voice.takes_per_digit, rt.recipe.copies_id
    )
    rt.forget(user_id)


def _change_model(
    session: Session, ctx: AppContext, user_id: uuid.UUID, change: Callable[[SpeakerModel], SpeakerModel]
) -> None:
    rt = ctx.voice
    gmm = rt.ubm.gmm
    speaker_models.update_model(
        session,
        user_id,
        rt.ubm.ubm_id,
        gmm.n_components,
        gmm.dim,
        change,
        ctx.settings.voice.takes_per_digit,
        rt.recipe.copies_id,
    )


def enrol(ctx: AppContext, user_id: uuid.UUID, take: DigitFrames) -> EnrolledTake:
    """Store one validated take of ``take.digit`` and add it to the user's model."""
    rt, policy = ctx.voice, ctx.settings.voice
    mfcc, energy = take.mfcc, take.energy
    level = level_dbfs(energy)
    if level < policy.quiet_dbfs:
        raise TakeRejected(
            "too_quiet", f"The take peaks at {level:.0f} dBFS; speak louder or closer to the microphone."
        )
    feats = postprocess(mfcc, energy, rt.post)
    if len(feats) < policy.min_speech_frames:
        raise TakeRejected(
            "too_short", f"Only {len(feats)} frames of speech (10 ms each); at least {policy.min_speech_frames} needed."
        )
    if implausible(rt, mfcc, energy) is not None:  # before the frames are scored or stored
        raise TakeRejected("not_speech", NOT_SPEECH)
    gmm = rt.ubm.gmm
    stats = take_stats(gmm, mfcc, energy, rt.post, rt.recipe)  # the take and its noisy copies
    with ctx.db.write_session() as session:
        users.lock_user(session, user_id)
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
                raise TakeRejected(
                    "wrong_digit",
                    f"This take does not sound like {take.digit} to your other takes (closest: {heard}); "
                    "please say the prompted digit again.",
                )
        utt = utterances.add_utterance(session, user_id, take.digit, rt.config.config_id, mfcc, energy)
        utt.stats_ubm_id = rt.ubm.ubm_id
        replay.record_take(session, user_id, utt.id, take.digit, mfcc, energy)  # for replay detection
        _change_model(session, ctx, user_id, lambda m: m.add(take.digit, stats))
        progress = utterances.enrolment_progress(session, user_id, policy.takes_per_digit)
        return EnrolledTake(
            utterance_id=utt.id,
            digit=utt.digit,
            n_frames=utt.n_frames,
            speech_frames=len(feats),
            created_at=utt.created_at,
            progress=progress_out(progress),
        )


def list_takes(ctx: AppContext, user_id: uuid.UUID) -> Takes:
    rt, policy = ctx.voice, ctx.settings.voice
    with ctx.db.read_session() as session:
        rows = utterances.list_utterances(session, user_id)
        progress = utterances.enrolment_progress(session, user_id, policy.takes_per_digit)
        takes = [
            Take(
                utterance_id=r.id,
                digit=r.digit,
                n_frames=r.n_frames,
                speech_frames=len(take_features(r, rt.post)),
                created_at=r.created_at,
            )
            for r in rows
        ]
    return Takes(utterances=takes, progress=progress_out(progress))


def delete_take(ctx: AppContext, user_id: uuid.UUID, utterance_id: int) -> None:
    """Remove one take and subtract its statistics from the model (recomputed: they are deterministic)."""
    rt = ctx.voice
    gmm = rt.ubm.gmm
    with ctx.db.write_session() as session:
        users.lock_user(session, user_id)
        ensure_current(session, ctx, user_id)
        row = utterances.get_utterance(session, user_id, utterance_id, for_update=True)
        if row is None:
            raise NotFound(f"You have no enrolment take with id {utterance_id}.")
        stats = row_stats(gmm, row, rt.post, rt.recipe)  # what enrol added: the take and its copies
        digit = row.digit
        session.delete(row)
        _change_model(session, ctx, user_id, lambda m: m.remove(digit, stats))


def reset(ctx: AppContext, user_id: uuid.UUID) -> None:
    with ctx.db.write_session() as session:
        users.lock_user(session, user_id)
        utterances.delete_utterances(session, user_id)
        speaker_models.delete_model(session, user_id)
        calibrations.delete_calibration(session, user_id)
    ctx.voice.forget(user_id)
