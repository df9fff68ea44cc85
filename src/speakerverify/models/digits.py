"""Spoken-content check: which digit does a segment sound like, to this speaker's own digit models?

The classifier is the speaker's hierarchical per-digit models (see ``speaker``):
a segment is scored against all ten, and the prompted digit must not fall far
behind the best one. A margin rather than a strict arg-max, because a genuine
take's prompted digit is the top one only ~96% of the time on FSDD while a wrong
digit almost never comes within the margin (see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .frame_bounds import bound_frame_llr
from .gmm import DiagGMM
from .scoring import Alignment, ModelTerms, align, model_terms, terms_frame_llr
from .speaker import DEFAULT_ADAPTATION, AdaptationConfig, SpeakerModel, Stats, digit_means


def digit_scores(ubm: DiagGMM, digit_means: np.ndarray, feats: np.ndarray, top_c: int = 8) -> np.ndarray:
    """Mean frame LLR of a segment (T, D) under each digit model (10, C, D). (10,); -inf if T = 0."""
    return segment_digit_scores(ubm, model_terms(ubm, digit_means), [feats], top_c)[0]


def segment_digit_scores(
    ubm: DiagGMM,
    digit_terms: ModelTerms,
    segments: Sequence[np.ndarray],
    top_c: int = 8,
    alignment: Alignment | None = None,
) -> np.ndarray:
    """Mean frame LLR of each segment (T_i, D) under each digit model. (S, 10); a row of -inf if T_i = 0.

    All segments' frames are aligned to the UBM in one pass (or ``alignment``: the caller's, of the
    segments' frames concatenated, sum T_i, with ``top_c``).
    """
    n_models = len(digit_terms.const)
    lengths = np.array([len(f) for f in segments])
    out = np.full((len(segments), n_models), -np.inf)
    if lengths.sum() == 0:
        return out
    feats = np.concatenate([np.asarray(f, dtype=np.float64) for f in segments if len(f)])
    aligned = align(ubm, feats, top_c) if alignment is None else alignment
    llr = bound_frame_llr(terms_frame_llr(digit_terms, feats, aligned))  # (10, sum T)
    starts = np.concatenate([[0], np.cumsum(lengths[lengths > 0])[:-1]])
    out[lengths > 0] = (np.add.reduceat(llr, starts, axis=1) / lengths[lengths > 0]).T
    return out


def content_margin(scores: np.ndarray, digit: int) -> float:
    """How far the prompted digit's score is above (>0) or below (<0) the best other digit."""
    others = np.delete(np.asarray(scores, dtype=np.float64), digit)
    return float(scores[digit] - others.max())


@dataclass(frozen=True)
class TakeCheck:
    """A take's content checked against the speaker's other takes: ``margin`` as in ``content_margin``
    (nan when the check cannot be made: some other digit has no take), ``closest`` the best other digit,
    ``scores`` (10,) the take's scores under the ten digit models it was checked with (nan if not),
    ``evidence`` the fewest takes any of those ten digit models was adapted from (the take left out)."""

    margin: float
    closest: int
    scores: np.ndarray = field(default_factory=lambda: np.full(10, np.nan))
    evidence: int = 0

    @property
    def checked(self) -> bool:
        return bool(np.isfinite(self.margin))


def check_takes(
    ubm: DiagGMM,
    model: SpeakerModel,
    takes: Sequence[tuple[int, np.ndarray, Stats, bool]],
    cfg: AdaptationConfig = DEFAULT_ADAPTATION,
    stored: np.ndarray | None = None,
) -> list[TakeCheck]:
    """Each take (digit, frames (T, D), its statistics, whether ``model`` holds it) checked leave-one-out.

    A take held by the model is first taken out of it, so a take is compared with the speaker's *other*
    takes: its own digit's model is adapted from them (the speaker model alone if there are none), every
    other digit's from that digit's takes. The check needs a take of every other digit: in ``model``, or
    among ``stored`` (10,), the takes kept whether or not the model holds them (a digit whose only take is
    flagged then competes with the speaker model alone, rather than switching the check off for every
    other digit). All frames are aligned to the UBM in one pass; then ten digit models per take (cheap).
    """
    out: list[TakeCheck] = []
    lengths = [len(f) for _, f, _, _ in takes]
    if not takes or sum(lengths) == 0:
        return [TakeCheck(float("nan"), -1) for _ in takes]
    feats = np.concatenate([np.asarray(f, dtype=np.float64) for _, f, _, _ in takes])
    alignment = align(ubm, feats, cfg.top_c)
    start = 0
    for (digit, _, stats, held), n in zip(takes, lengths, strict=True):
        rest = model.remove(digit, stats) if held else model
        span = slice(start, start + n)
        start += n
        others = np.delete(rest.takes if stored is None else np.maximum(rest.takes, stored), digit)
        if n == 0 or np.any(others < 1):
            out.append(TakeCheck(float("nan"), -1))
            continue
        part = alignment.frames(span)
        terms = model_terms(ubm, digit_means(ubm, rest, cfg))
        scores = bound_frame_llr(terms_frame_llr(terms, feats[span], part)).mean(axis=1)  # (10,)
        rivals = scores.copy()
        rivals[digit] = -np.inf
        margin = float(scores[digit] - rivals.max())
        out.append(TakeCheck(margin, int(np.argmax(rivals)), scores, int(rest.takes.min())))
    return out


def leave_set_out(
    ubm: DiagGMM,
    model: SpeakerModel,
    takes: Sequence[tuple[int, np.ndarray, Stats, bool]],
    digit: int,
    margin: float,
    cfg: AdaptationConfig = DEFAULT_ADAPTATION,
) -> list[int]:
    """Which of ``takes`` (all of one digit e, held by ``model``: digit, frames (T, D), statistics, True)
    sound like ``digit``, checked together: indices into ``takes``, [] if none.

    Leave-one-out cannot see k takes of e that all say ``digit``: each is explained by the others in e's
    model. So the takes are peeled off one at a time, each time the one most like ``digit`` (against e's
    model without it and the ones peeled before); the answer is the longest run of peeled takes that,
    all out of the model together, each score above e's remaining takes (the speaker model if none) under
    ``digit``'s model by more than ``margin`` (mean frame LLR). At most k (k + 1) / 2 models of k takes.

    A run of several takes must leave at least one of e's takes in: otherwise a wrong take (labelled
    ``digit``, saying e) in ``digit``'s model could take out every genuine take of e and then pass, with
    nothing of e left to explain it. One take alone may be e's only one (a swap of two first-round takes).
    """
    if not takes or any(len(f) == 0 for _, f, _, _ in takes):
        return []
    feats = [np.asarray(f, dtype=np.float64) for _, f, _, _ in takes]
    whole = align(ubm, np.concatenate(feats), cfg.top_c)
    ends = np.cumsum([len(f) for f in feats])
    spans = [slice(end - len(f), end) for f, end in zip(feats, ends, strict=True)]

    def terms(rest: SpeakerModel) -> ModelTerms:
        return model_terms(ubm, digit_means(ubm, rest, cfg))

    def scores(digit_terms: ModelTerms, i: int) -> np.ndarray:
        """Take i's scores (10,) under the ten digit models."""
        return bound_frame_llr(terms_frame_llr(digit_terms, feats[i], whole.frames(spans[i]))).mean(axis=1)

    e = takes[0][0]
    peeled: list[int] = []
    rest, longest = model, 0
    left = list(range(len(takes)))
    while left:
        lead = {i: scores(terms(rest.remove(e, takes[i][2])), i) for i in left}  # without itself and the peeled
        pick = max(left, key=lambda i: lead[i][digit] - lead[i][e])
        peeled.append(pick)
        left.remove(pick)
        rest = rest.remove(e, takes[pick][2])
        if len(peeled) > 1 and not left:
            break  # a run of several leaves one of e's takes (see above)
        together = terms(rest)
        if all(s[digit] - s[e] > margin for s in (scores(together, i) for i in peeled)):
            longest = len(peeled)
    return peeled[:longest]
