"""Enrolment use cases: add a take (with its quality verdict), list, delete one, reset."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from sqlalchemy.orm import Session

from ..features import postprocess
from ..models.digits import check_takes, content_margin, leave_set_out, segment_digit_scores
from ..models.scoring import model_terms
from ..models.speaker import SpeakerModel, Stats, digit_means
from ..storage import calibrations, speaker_models, users, utterances
from ..storage.tables import Utterance
from ..voice.plausible import NOT_SPEECH, implausible
from ..voice.runtime import CachedModel, cached_model, take_template
from ..voice.takes import (
    TakeStats,
    UserModel,
    level_dbfs,
    row_stats,
    row_stats_pair,
    take_features,
    take_stats_pair,
)
from .context import AppContext
from .errors import NotFound, TakeRejected
from .frames import DigitFrames
from .results import EnrolledTake, Progress, Suspect, Take, Takes


def progress_out(progress: utterances.EnrolmentProgress) -> Progress:
    return Progress(
        takes_per_digit=list(progress.takes_per_digit),
        required_takes_per_digit=progress.required_per_digit,
        percent=progress.percent,
        ready=progress.ready,
    )


def ensure_current(session: Session, ctx: AppContext, user_id: uuid.UUID) -> None:
    """Make the user's model row follow the active UBM and noisy copies (or create it for takes that have
    none). Nothing is recomputed here: the model is derived from the takes on its next read, and the
    bumped version makes every worker's cached one stale."""
    rt = ctx.voice
    current = speaker_models.model_version(session, user_id)
    if rt.holds(current):
        return
    users.lock_user(session, user_id)  # then look again: another writer may have rebased it meanwhile
    current = speaker_models.model_version(session, user_id)
    if rt.holds(current):
        return
    rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == rt.config.config_id]
    if current is None and not rows:
        return
    held = np.bincount([r.digit for r in rows if r.suspect_digit is None], minlength=10)
    for row in rows:
        row.stats_ubm_id = rt.ubm.ubm_id
    ready = bool(np.all(held >= ctx.settings.voice.takes_per_digit))
    speaker_models.touch_model(session, user_id, rt.ubm.ubm_id, ready, rt.recipes.copies_id, rebase=True)
    rt.forget(user_id)


@dataclass
class _Working:
    """The user's models inside one write transaction, under the user's lock: the cached entry whose version
    is the row's (else derived from the takes in this transaction), and the changes made since, applied in
    float64 (``_change_model``; the content checks read ``model.content``, verification ``model.voice``).
    ``_publish`` caches the result once the transaction has committed, so no other worker and no rolled-back
    change ever sees it; other workers see the new version and derive."""

    entry: CachedModel | None
    model: UserModel
    templates: dict[int, tuple[int, np.ndarray]]  # take id: (digit, replay template)
    version: int | None = None  # the row's version after the last change; None: unchanged


def _working(session: Session, ctx: AppContext, user_id: uuid.UUID) -> _Working:
    rt = ctx.voice
    cached = rt.speaker(session, user_id)
    if cached is None:  # no model yet, or one against another UBM: rebased, then derived from the takes
        ensure_current(session, ctx, user_id)
        current = speaker_models.model_version(session, user_id)
        # Not cached: the rebased version is this transaction's until it commits (``_publish`` then).
        cached = rt.derive(session, user_id, current[0]) if current is not None and rt.holds(current) else None
    if cached is None:
        gmm = rt.ubm.gmm
        return _Working(None, UserModel.empty(gmm.n_components, gmm.dim), {})
    digits = [int(d) for d in cached.take_digits]
    templates = dict(zip(cached.take_ids, zip(digits, cached.take_templates, strict=True), strict=True))
    return _Working(cached, cached.user_model, templates)


def _publish(ctx: AppContext, user_id: uuid.UUID, work: _Working) -> None:
    """After the commit: the changed model as the cache entry of the row's new version."""
    rt = ctx.voice
    if work.version is not None:
        rt.install(user_id, cached_model(rt.ubm, work.version, work.model, rt.adaptation, work.templates))


def _change_model(
    session: Session,
    ctx: AppContext,
    user_id: uuid.UUID,
    work: _Working,
    change: Callable[[UserModel], UserModel],
) -> None:
    rt = ctx.voice
    work.model = change(work.model)
    ready = bool(np.all(work.model.takes >= ctx.settings.voice.takes_per_digit))
    work.version = speaker_models.touch_model(session, user_id, rt.ubm.ubm_id, ready, rt.recipes.copies_id).version


def _refuse_wrong_digit(
    session: Session,
    ctx: AppContext,
    user_id: uuid.UUID,
    work: _Working,
    take: DigitFrames,
    stats: TakeStats,
    feats: np.ndarray,
) -> None:
    """Refuse a new take of ``digit`` that sounds more like another digit of the speaker's own takes.

    From the moment every other digit has a stored take (counting flagged ones; the take's own digit may
    have none yet: then it is compared with the speaker's model as a whole), so even the first round is
    checked, against the content model's digit models (which leave flagged takes out). A take that loses to
    digit e is not refused if e's own takes explain it (``_clear_rival``).
    """
    rt, policy = ctx.voice, ctx.settings.voice
    digit = take.digit
    kept = utterances.enrolment_progress(session, user_id, policy.takes_per_digit, suspect_too=True)
    if np.any(np.delete(np.array(kept.takes_per_digit), digit) < 1):
        return
    gmm, cfg = rt.ubm.gmm, rt.adaptation
    terms = model_terms(gmm, digit_means(gmm, work.model.content, cfg))
    scores = segment_digit_scores(gmm, terms, [feats], cfg.top_c)[0]
    if content_margin(scores, digit) >= -policy.enrol_content_margin:
        return
    rivals = scores.copy()
    rivals[digit] = -np.inf
    rival = int(np.argmax(rivals))
    if _clear_rival(session, ctx, user_id, work, take, stats, feats, rival, np.array(kept.takes_per_digit)):
        return
    raise TakeRejected(
        "wrong_digit",
        f"This take does not sound like {digit} to your other takes (closest: {rival}); "
        "please say the prompted digit again.",
    )


def _clear_rival(
    session: Session,
    ctx: AppContext,
    user_id: uuid.UUID,
    work: _Working,
    take: DigitFrames,
    stats: TakeStats,
    feats: np.ndarray,
    rival: int,
    stored: np.ndarray,
) -> bool:
    """Flag the takes of ``rival`` that are really takes of the new take's digit, if the new take then passes.

    A mislabelled take accepted early (the first round has one take a digit, and a weak check) makes
    every later genuine take of the digit it really says lose to its label. So before a new take is
    refused for sounding like digit e, the takes ``_mislabelled`` finds are flagged, if the new take then
    passes the check without them (which keeps a wrong take from clearing the genuine takes of the digit
    it says). Returns whether takes were flagged (and the new take passes).
    """
    rt, policy = ctx.voice, ctx.settings.voice
    gmm, cfg, digit, model = rt.ubm.gmm, rt.adaptation, take.digit, work.model
    poison = _mislabelled(session, ctx, user_id, model.add(digit, stats).content, digit, rival, stored)
    if not poison:
        return False
    without = _apply_flags(model, poison)
    terms = model_terms(gmm, digit_means(gmm, without.content, cfg))
    again = segment_digit_scores(gmm, terms, [feats], cfg.top_c)[0]
    if content_margin(again, digit) < -policy.enrol_content_margin:
        return False
    for r, _, heard in poison:
        r.suspect_digit = heard
    _change_model(session, ctx, user_id, work, partial(_apply_flags, changed=poison))
    return True


def _mislabelled(
    session: Session,
    ctx: AppContext,
    user_id: uuid.UUID,
    base: SpeakerModel,
    digit: int,
    rival: int,
    stored: np.ndarray,
) -> list[tuple[Utterance, TakeStats, int | None]]:
    """Held takes of ``rival`` and ``digit`` that ``base`` (the content model with the new take of ``digit``
    in it) shows to be mislabelled, each with the digit it sounds like.

    Each of the rival's takes is checked leave-one-out against ``digit``: one closer to that digit's model
    than to the rival's other takes by ``enrol_poison_margin``. The new take is evidence for its digit here:
    without it, a digit whose only takes were refused (or are themselves mislabelled) has nothing to claim
    its mislabelled takes back with (measured, margin 0: from round 2, 87% of wrong digits refused or
    flagged and 7.6% of genuine takes refused without it, at 20% wrong takes on development takes; 96.5%
    and 0.3% with it). If none is, the rival's takes are checked together (``models.digits.leave_set_out``,
    the same margin): k wrong takes that agree (the same digit said k times for the rival) each explain
    the others in the rival's model, so none stands out alone, and every later genuine take of ``digit``
    was refused for good (BENCHMARKS.md). A run of several keeps one of the rival's takes in, so a wrong
    new take (saying the rival) cannot clear all the genuine takes of the digit it says and then pass.
    ``digit``'s own takes are checked as the re-check does (``flag_margin``): a mislabelled one there also
    refuses genuine takes, and once the user only adds takes of that digit, and every one is refused, no
    round completes to re-check it.
    """
    rt, policy = ctx.voice, ctx.settings.voice
    rows = [
        r
        for r in utterances.list_utterances(session, user_id)
        if r.config_id == rt.config.config_id and r.digit in (rival, digit) and r.suspect_digit is None
    ]
    takes = [(r.digit, take_features(r, rt.post), _content_stats(ctx, r), True) for r in rows]
    checks = check_takes(rt.ubm.gmm, base, takes, rt.adaptation, stored=stored) if rows else []
    poison: list[tuple[Utterance, int | None]] = []
    for r, c in zip(rows, checks, strict=True):
        if not c.checked:
            continue
        if r.digit == rival and c.scores[rival] - c.scores[digit] < -policy.enrol_poison_margin:
            poison.append((r, digit))
        elif r.digit == digit and c.margin < -policy.flag_margin(c.evidence):
            poison.append((r, c.closest))
    if not any(r.digit == rival for r, _ in poison):
        # None of the rival's takes stands out alone: several may agree (each explained by the others).
        rivals = [i for i, (r, c) in enumerate(zip(rows, checks, strict=True)) if r.digit == rival and c.checked]
        found = leave_set_out(
            rt.ubm.gmm, base, [takes[i] for i in rivals], digit, policy.enrol_poison_margin, rt.adaptation
        )
        if len(found) > 1:
            poison += [(rows[rivals[i]], digit) for i in found]
    return [(r, row_stats_pair(rt.ubm.gmm, r, rt.post, rt.recipes), heard) for r, heard in poison]


def _content_stats(ctx: AppContext, row: Utterance) -> Stats:
    """What a stored take adds to the content model: all the checks need. Its voice statistics (the babble
    copies, most of the cost) are computed only for the takes whose flag changes (``row_stats_pair``)."""
    rt = ctx.voice
    return row_stats(rt.ubm.gmm, row, rt.post, rt.recipes.content)


def suspect_out(digit: int, heard: int | None) -> Suspect | None:
    if heard is None:
        return None
    return Suspect(
        code="wrong_digit",
        detail=f"This take of {digit} sounds more like your takes of {heard}; "
        f"please delete it and record {digit} again.",
    )


def recheck(
    session: Session, ctx: AppContext, user_id: uuid.UUID, work: _Working, passes: int = 3
) -> dict[int, int | None]:
    """Check every stored take against the user's other takes again, and flag the inconsistent ones.

    A flagged take leaves the model (and the progress) until a later check clears it or it is deleted:
    otherwise one mislabelled take of the first round would make the next genuine take of that digit look
    wrong. Repeated (up to ``passes``) because flagging one take changes what the others are compared
    with: a genuine take looks wrong beside a mislabelled take of the digit it really is, until that one
    is out. Returns {utterance id: the digit it sounds like, or None} after the last pass.
    """
    rt, policy = ctx.voice, ctx.settings.voice
    rows = [r for r in utterances.list_utterances(session, user_id) if r.config_id == rt.config.config_id]
    if not rows:
        return {}
    gmm = rt.ubm.gmm
    feats = [take_features(r, rt.post) for r in rows]
    stats = [_content_stats(ctx, r) for r in rows]  # the content model's share, as enrol added it
    for _ in range(passes):
        checks = check_takes(
            gmm,
            work.model.content,
            [(r.digit, f, s, r.suspect_digit is None) for r, f, s in zip(rows, feats, stats, strict=True)],
            rt.adaptation,
            stored=np.bincount([r.digit for r in rows], minlength=10),
        )
        verdicts = [c.closest if c.checked and c.margin < -policy.flag_margin(c.evidence) else None for c in checks]
        changed = [
            (r, row_stats_pair(gmm, r, rt.post, rt.recipes), v)
            for r, v in zip(rows, verdicts, strict=True)
            if (r.suspect_digit is None) != (v is None)
        ]
        for r, v in zip(rows, verdicts, strict=True):
            r.suspect_digit = v
        if not changed:
            break
        _change_model(session, ctx, user_id, work, partial(_apply_flags, changed=changed))
    session.flush()
    return {r.id: r.suspect_digit for r in rows}


def _apply_flags(model: UserModel, changed: Sequence[tuple[Utterance, TakeStats, int | None]]) -> UserModel:
    for row, stats, verdict in changed:
        model = model.remove(row.digit, stats) if verdict is not None else model.add(row.digit, stats)
    return model


def enrol(ctx: AppContext, user_id: uuid.UUID, take: DigitFrames) -> EnrolledTake:
    """Store one validated take of ``take.digit`` and add it to the user's model."""
    rt, policy = ctx.voice, ctx.settings.voice
    mfcc, energy = utterances.as_stored(take.mfcc, take.energy)  # checked, scored and kept at one precision
    if not (np.all(np.isfinite(mfcc)) and np.all(np.isfinite(energy))):  # beyond float16's range
        raise TakeRejected("not_speech", NOT_SPEECH)
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
    if implausible(rt, mfcc, energy, feats) is not None:  # before the frames are scored or stored
        raise TakeRejected("not_speech", NOT_SPEECH)
    stats = take_stats_pair(rt.ubm.gmm, mfcc, energy, rt.post, rt.recipes)  # the take and its noisy copies
    template = take_template(mfcc, energy)  # for replay detection (kept in the cache, not stored)
    with ctx.db.write_session() as session:
        users.lock_user(session, user_id)
        # The model as of the row's version read under the lock: the cached one, else derived here.
        work = _working(session, ctx, user_id)
        if work.entry is not None:
            _refuse_wrong_digit(session, ctx, user_id, work, take, stats, feats)
        held = work.model.takes.copy()
        utt = utterances.add_utterance(session, user_id, take.digit, rt.config.config_id, mfcc, energy)
        utt.stats_ubm_id = rt.ubm.ubm_id
        work.templates[utt.id] = (take.digit, template)
        _change_model(session, ctx, user_id, work, lambda m: m.add(take.digit, stats))
        suspects = {}
        before = held.min()
        held[take.digit] += 1
        # Stored takes are checked again when a round completes (every digit has one more take): the check
        # is then better than when they came in, and the cost (all takes, ~0.1-0.5 s) is paid once a round.
        if held.min() > before:
            suspects = recheck(session, ctx, user_id, work)
        progress = utterances.enrolment_progress(session, user_id, policy.takes_per_digit)
        enrolled = EnrolledTake(
            utterance_id=utt.id,
            digit=utt.digit,
            n_frames=utt.n_frames,
            speech_frames=len(feats),
            created_at=utt.created_at,
            suspect=suspect_out(utt.digit, suspects.get(utt.id, utt.suspect_digit)),
            progress=progress_out(progress),
        )
    _publish(ctx, user_id, work)
    return enrolled


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
                suspect=suspect_out(r.digit, r.suspect_digit),
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
        row = utterances.get_utterance(session, user_id, utterance_id, for_update=True)
        if row is None:
            raise NotFound(f"You have no enrolment take with id {utterance_id}.")
        work = _working(session, ctx, user_id)
        stats = row_stats_pair(gmm, row, rt.post, rt.recipes)  # what enrol added: the take and its copies
        digit = row.digit
        held = row.suspect_digit is None  # a suspect take is not in the model
        session.delete(row)
        work.templates.pop(utterance_id, None)
        # Bumped even for a suspect take: its replay template leaves the cached entry with it.
        _change_model(session, ctx, user_id, work, (lambda m: m.remove(digit, stats)) if held else (lambda m: m))
        session.flush()
        recheck(session, ctx, user_id, work)  # its absence may clear, or flag, the others
    _publish(ctx, user_id, work)


def reset(ctx: AppContext, user_id: uuid.UUID) -> None:
    with ctx.db.write_session() as session:
        users.lock_user(session, user_id)
        utterances.delete_utterances(session, user_id)
        speaker_models.delete_model(session, user_id)
        calibrations.delete_calibration(session, user_id)
    ctx.voice.forget(user_id)
