"""Replay and splice detection for verification segments (the maths is in ``models.replay``).

Every enrolment take and every verification segment has a replay template (its smoothed cepstral
time course): a take's is derived from the take with its speaker model (``voice.runtime``), a segment's
is stored. A segment any third of which runs within ``REPLAY_THRESHOLD`` of a stretch of anything of
the same digit already seen for the user (their stored takes, their earlier segments) is a replay:
re-sent, noised, trimmed, re-framed, time-stretched or spliced from pieces of several takes
(RELIABILITY.md has the FSDD measurements: 0 of 3,000 fresh takes flagged).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from ..models import replay
from ..storage import fingerprints, utterances
from ..voice.runtime import CachedModel, take_template


@dataclass(frozen=True)
class Seen:
    """What was seen for a user when an answer was read, for the prompted digits: N templates, their
    digits (N,) and their stored ids."""

    fingerprints: list[np.ndarray]
    digits: np.ndarray
    ids: set[int]
    take_ids: frozenset[int] = frozenset()  # the takes whose templates are among ``fingerprints``
    answer_counts: np.ndarray = field(default_factory=lambda: np.zeros(10, dtype=int))  # (10,) stored answers'


def seen(session: Session, user_id: uuid.UUID, digits: list[int], model: CachedModel | None = None) -> Seen:
    """Only the prompted digits' fingerprints: a replayed segment repeats an earlier recording of the
    same digit (one of another digit would fail the content check), and the per-answer cost then grows
    with half the user's history, not all of it. The takes' templates come from ``model`` (the cached
    entry, derived from the takes: they are not stored), the answers' from their stored rows."""
    fps, of_digit, ids = fingerprints.user_fingerprints_with_ids(session, user_id, digits)
    counts = np.bincount(of_digit, minlength=10)
    if model is None:
        return Seen(fps, of_digit, ids, answer_counts=counts)
    takes, take_digits = model.templates_of(digits)
    fps, of_digit = takes + fps, np.concatenate([take_digits, of_digit]).astype(int)
    return Seen(fps, of_digit, ids, frozenset(model.take_ids), counts)


def needs_pruning(answer_counts: np.ndarray, digits: list[int], keep_per_digit: int) -> bool:
    """Must this answer prune: would a prompted digit then hold more than 2 x ``keep_per_digit`` answer
    templates (``answer_counts`` (10,): held before it, plus what it adds)? The pruning statement ranks
    all the user's answer templates (~5 ms an answer, BENCHMARKS.md "hot"), so it runs only when a digit
    reaches the most its two partitions (accepted, the others) may hold together; the check never reads
    more than that, and which templates survive is decided by the same rule, so rejected answers still
    cannot push out accepted ones (SECURITY.md "Replay fingerprints under retention")."""
    if keep_per_digit <= 0:
        return False
    after = np.asarray(answer_counts).copy()
    np.add.at(after, np.asarray(digits, dtype=int), 1)
    return bool(after[np.asarray(digits, dtype=int)].max(initial=0) > 2 * keep_per_digit)


def _takes_since(
    session: Session, user_id: uuid.UUID, digits: list[int], before: Seen
) -> tuple[list[np.ndarray], np.ndarray]:
    """Templates of the user's takes of ``digits`` stored since ``before`` was read (a take enrolled while
    the answer was scored: its template is in no cached entry yet), and their digits. One id query; the
    rare new take is read and its template derived."""
    new = utterances.takes_not_in(session, user_id, digits, before.take_ids)
    return (
        [take_template(*utterances.utterance_arrays(r)) for r in new],
        np.array([r.digit for r in new], dtype=int),
    )


def distances(digits: list[int], segment_fps: list[np.ndarray], before: Seen) -> np.ndarray:
    """Distance of each segment to the nearest fingerprint of its digit in ``before``; a segment is a
    replay when it is below ``REPLAY_THRESHOLD``. (S,) Done outside any write transaction: it is the
    costly part. Exact below the threshold only (``nearest_many``'s ``exact_below``): the decisions need no
    more, and most of the work is skipped."""
    threshold = replay.REPLAY_THRESHOLD
    return replay.nearest_many(segment_fps, before.fingerprints, np.array(digits), before.digits, threshold)


def settle_and_record(
    session: Session,
    user_id: uuid.UUID,
    challenge_id: uuid.UUID,
    digits: list[int],
    segment_fps: list[np.ndarray],
    before: Seen,
    found: np.ndarray,
    keep_per_digit: int = 0,
) -> np.ndarray:
    """In the write transaction that holds the user's lockout row: check the segments against what was
    stored since ``before`` (a concurrent answer carrying the same segment), then record them, keeping the
    newest ``keep_per_digit`` answer fingerprints of each digit and kind (0: all) once a digit holds more than
    twice that (``needs_pruning``). Returns the final distances. (S,)"""
    newer, newer_digits = fingerprints.fingerprints_not_in(session, user_id, digits, before.ids)
    held = before.answer_counts + np.bincount(newer_digits, minlength=10)  # answers' templates only
    if before.take_ids:  # takes' templates came from the model entry: and takes stored since then
        new_takes, new_digits = _takes_since(session, user_id, digits, before)
        newer, newer_digits = newer + new_takes, np.concatenate([newer_digits, new_digits]).astype(int)
    if len(newer):
        again = replay.nearest_many(segment_fps, newer, np.array(digits), newer_digits, replay.REPLAY_THRESHOLD)
        found = np.minimum(found, again)
    fingerprints.add_many(session, user_id, digits, segment_fps, challenge_id)
    if needs_pruning(held, digits, keep_per_digit):
        fingerprints.prune_answers(session, user_id, keep_per_digit)
    return found
