"""Scoring an answer and deciding it: pure functions of arrays, testable without a database.

``score_answer`` turns the segments of one answer into per-digit scores and content verdicts against the
user's digit models; ``decide`` combines that with the replay distances and the user's calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..models.digits import content_margin, segment_digit_scores
from ..models.gmm import DiagGMM
from ..models.noise_signature import (
    answer_signature,
    fraction_between,
    noise_model_terms,
    noise_normalised,
    reference_signature,
)
from ..models.scoring import Alignment, ModelTerms, align

NOISE_TOLERANCE_DB = 1.0
"""How far below the noisiest calibrated level an answer's measured SNR may be and still be decided there
(about the estimate's scatter at low SNR); further below, the FAR cannot be promised: ``too_noisy``."""

EXCESS_SIGNATURE_COST = 2.0
"""What each unit of noise signature beyond the degraded cohort's at the answer's measured SNR (and beyond
the mildest level's at any SNR) adds to the raw score the answer must reach (mean frame LLR per unit of
signature). Noise never makes an answer look more like the noisy-copy construction than the construction
itself does at that SNR (real white, pink and babble at 5-20 dB: median fraction 0.14-0.75), but cepstra
flattened towards their mean do, and they fit every user's noisy copies: with the level as the cap,
impostors flattened x0.3 and claiming 7 dB were accepted at 6.4% of 2,400 (SECURITY.md "Flattened
cepstra", ``benchmarks/flattened_cepstra.py``). Flattened impostors' 99th-percentile score rises about
0.4-0.8 per unit of signature; 2 covers that with margin and costs genuine noisy answers at most 0.3 points
of FRR on the development takes, none on the test takes (3, before the floor, cost up to 1.7)."""


@dataclass(frozen=True)
class Calibration:
    """How a user's raw score (mean frame LLR) becomes a decision: ``raw - location >= threshold``.

    ``levels``: (measured SNR dB, location, threshold) of the cohort degraded to each noise level, and
    ``clean_snr_db`` the measured SNR of the clean cohort trials (where ``location``/``threshold`` hold);
    an answer's operating point is interpolated between them by its own measured SNR. Empty in the
    provisional mode (and for calibrations from before the levels existed): one threshold for all.
    ``signatures``: each level's cohort noise signature (``models.noise_signature``; one per level) and
    ``clean_signature`` the clean trials'; empty/None without a noise model: the levels serve unscaled."""

    mode: str  # "provisional" | "deployment"
    location: float  # subtracted from the raw score
    threshold: float  # on the normalised score
    k: int  # challenge length it was computed for
    levels: tuple[tuple[float, float, float], ...] = ()
    clean_snr_db: float | None = None
    signatures: tuple[float, ...] = ()
    clean_signature: float | None = None

    def normalise(self, raw: Any) -> Any:
        """raw: a score or an array of scores."""
        return raw - self.location

    def operating_point(self, snr_db: float | None, signature: float | None = None) -> tuple[float, float] | None:
        """(location, threshold) for an answer measured at ``snr_db``; None when it is too noisy to decide
        at the promised FAR (below the noisiest level by more than ``NOISE_TOLERANCE_DB``).

        With the answer's noise ``signature`` and the cohort's, what the noisy point asks of the raw score
        above the clean point is scaled by ``signature_fraction``: noise that raises scores against the
        noise model as the degraded cohort's construction does (stationary, broadband) is held to the
        level; noise that does not (other speech) raises impostor scores less and is held closer to the
        clean point (BENCHMARKS.md "Noise: the answer's noise signature"). A signature beyond the degraded
        cohort's at ``snr_db`` (and the mildest level's) is no noise's: each unit of it asks
        ``EXCESS_SIGNATURE_COST`` more.

        The SNR is measured from frames the client sends, so a claimant can make any answer look noisy
        (raise the quiet frames' energy, leave the speech clean). A noisy point may therefore never ask
        less of the raw score than the clean point does (``location + threshold``): claiming noise can
        cost an answer, never help it (SECURITY.md "Claimed noise", ``benchmarks/snr_claim.py``).
        """
        point = self.interpolated_point(snr_db)
        if point is None:
            return None
        location, threshold = point
        clean_raw = self.location + self.threshold  # what the clean point asks of the raw score
        above = max(0.0, location + threshold - clean_raw)  # what the noisy point asks beyond it
        if signature is not None and snr_db is not None and self.signature_refs_usable:
            assert self.clean_snr_db is not None and self.clean_signature is not None
            refs = [(snr, sig) for (snr, _, _), sig in zip(self.levels, self.signatures, strict=True)]
            ref = reference_signature(snr_db, refs, self.clean_snr_db, self.clean_signature)
            above *= fraction_between(signature, self.clean_signature, ref)
            # Never below the mildest level's: clean trials' signatures scatter widely (dev: 90th percentile
            # 0.31 above their median), so near the clean point the median would charge honest answers.
            above += EXCESS_SIGNATURE_COST * max(0.0, signature - max(ref, max(refs)[1]))
        return location, clean_raw + above - location

    @property
    def signature_refs_usable(self) -> bool:
        """Does the calibration carry the cohort's noise signatures (one per level, and the clean one)?"""
        return bool(self.levels) and len(self.signatures) == len(self.levels) and self.clean_signature is not None

    def interpolated_point(self, snr_db: float | None) -> tuple[float, float] | None:
        """(location, threshold) interpolated between the clean point and the levels by ``snr_db``, before
        ``operating_point``'s floor; None when too noisy to decide."""
        if snr_db is None or not self.levels or self.clean_snr_db is None:
            return self.location, self.threshold
        points = sorted([(self.clean_snr_db, self.location, self.threshold), *self.levels])
        snr, loc, thr = (np.array(col, dtype=np.float64) for col in zip(*points, strict=True))
        if snr_db < snr[0] - NOISE_TOLERANCE_DB:
            return None
        return float(np.interp(snr_db, snr, loc)), float(np.interp(snr_db, snr, thr))


@dataclass(frozen=True)
class SegmentScore:
    """One segment against the prompted digit: speech frames scored, mean frame LLR (None when too short
    to score), whether it sounds like that digit, and by how much it leads or trails the best other digit."""

    digit: int
    n_frames: int
    score: float | None
    content_ok: bool
    content_margin: float | None


@dataclass(frozen=True)
class AnswerScore:
    segments: list[SegmentScore]
    # frame-weighted mean LLR over the scored segments (less the noise signature's share, ``_normalised``);
    # None if none could be scored
    raw: float | None
    n_frames: int
    signature: float | None = None  # the scored frames' noise signature (models.noise_signature), if measured

    @property
    def digits_match(self) -> bool:
        return all(s.content_ok for s in self.segments)


@dataclass(frozen=True)
class Decision:
    accept: bool
    score: float | None  # the normalised score, None when nothing could be scored
    replayed: list[bool]
    threshold: float | None = None  # the threshold the score was held to (the answer's quality's)
    too_noisy: bool = False  # too noisy to decide at the promised FAR: refused, whatever the score


def score_answer(
    ubm: DiagGMM,
    terms: ModelTerms,
    prompted: Sequence[int],
    claimed: Sequence[int],
    feats: Sequence[np.ndarray],
    min_speech_frames: int,
    max_content_margin: float,
    top_c: int,
    alignment: Alignment | None = None,
) -> AnswerScore:
    """Score post-processed segments feats[i] (N_i, D), claimed to say claimed[i], against the model of
    prompted[i]. A segment with fewer than ``min_speech_frames`` frames is not scored and fails the content
    check; one whose prompted digit trails the best digit model by more than ``max_content_margin`` fails it.
    ``alignment``: the UBM alignment of all segments' frames concatenated (sum N_i), if the caller has it.
    """
    enough = [len(f) >= min_speech_frames for f in feats]
    if alignment is not None:  # keep the frames of the segments that are scored
        keep = np.concatenate([np.full(len(f), ok) for f, ok in zip(feats, enough, strict=True)])
        alignment = alignment.frames(keep)
    scored = [f if ok else f[:0] for f, ok in zip(feats, enough, strict=True)]
    frames_all = np.concatenate([np.asarray(f, dtype=np.float64) for f in scored]) if scored else np.zeros((0, 0))
    noise_model = noise_model_terms(ubm)
    if alignment is None and noise_model is not None and len(frames_all):
        alignment = align(ubm, frames_all, top_c)  # once, for the digit models and the noise model
    rows = segment_digit_scores(ubm, terms, scored, top_c, alignment)
    signature = (
        None
        if noise_model is None or alignment is None or not len(frames_all)
        else answer_signature(noise_model, frames_all, alignment)
    )
    segments: list[SegmentScore] = []
    total, frames = 0.0, 0
    for f, ok_len, row, digit, said in zip(feats, enough, rows, prompted, claimed, strict=True):
        if not ok_len:
            segments.append(SegmentScore(digit, len(f), None, False, None))
            continue
        margin = content_margin(row, digit)
        ok = said == digit and margin >= -max_content_margin
        segments.append(SegmentScore(digit, len(f), float(row[digit]), ok, margin))
        total += float(row[digit]) * len(f)
        frames += len(f)
    return AnswerScore(segments, normalised_score(total, frames, signature), frames, signature)


def normalised_score(total: float, frames: int, signature: float | None) -> float | None:
    """The answer's raw score: the frame-weighted mean LLR, ``noise_normalised`` when the signature was
    measured (as the cohort's trials are); None without scored frames."""
    if not frames:
        return None
    return total / frames if signature is None else float(noise_normalised(total / frames, signature))


def decide(
    answer: AnswerScore,
    replay_distances: np.ndarray,
    calibration: Calibration,
    replay_threshold: float,
    snr_db: float | None = None,
) -> Decision:
    """Accept only when every segment is the prompted digit, none is a replay (distance (S,) below
    ``replay_threshold``), the answer (measured at ``snr_db``; None: not measured, the clean point) is not
    too noisy, and its score normalised at its quality's operating point (and noise signature) reaches that
    point's threshold."""
    replayed = [bool(d < replay_threshold) for d in replay_distances]
    point = calibration.operating_point(snr_db, answer.signature)
    location, threshold = (calibration.location, calibration.threshold) if point is None else point
    score = None if answer.raw is None else float(answer.raw - location)
    accept = (
        point is not None and answer.digits_match and not any(replayed) and score is not None and score >= threshold
    )
    return Decision(accept, score, replayed, threshold, point is None)


# What a claimant is told about a decision: a code to act on, never a number. Precedence, first match wins:
# a segment too short to score (say it again, longer) before a suspected replay (the answer is refused
# whatever the voice) before too much noise to decide at the promised FAR (go somewhere quieter; noise also
# explains wrong-sounding digits) before wrong digits before the voice itself. ``locked`` and ``not_speech`` never
# reach here: they are refused (as problems) before anything is scored; a refused ``not_speech`` answer
# is still recorded (it counts towards the lockout), so the attempt list can show that reason.
Reason = Literal[
    "accepted", "too_short", "replay_suspected", "too_noisy", "digits_not_matched", "voice_not_matched", "not_speech"
]
REASONS: tuple[Reason, ...] = (
    "accepted",
    "too_short",
    "replay_suspected",
    "too_noisy",
    "digits_not_matched",
    "voice_not_matched",
    "not_speech",
)


def reason(answer: AnswerScore, decision: Decision) -> Reason:
    """The reason code of ``decision`` on ``answer``; see ``REASONS`` for the precedence."""
    if decision.accept:
        return "accepted"
    if any(s.score is None for s in answer.segments):
        return "too_short"
    if any(decision.replayed):
        return "replay_suspected"
    if decision.too_noisy:
        return "too_noisy"
    if not answer.digits_match:
        return "digits_not_matched"
    return "voice_not_matched"
