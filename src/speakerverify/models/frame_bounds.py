"""Bounding each frame's LLR contribution, so that no few frames can carry a segment.

A segment's score is the mean frame LLR. Crafted frames can be placed where one model's density
dwarfs the UBM's (far from the data, on a sharply adapted component): without a bound, k such
frames add k * max / T to the mean, whatever the other frames say. Clipping each frame to
[-bound, +bound] caps them at k * bound / T, and ``bound`` is chosen from genuine trials so that
real frames are almost never clipped (``benchmarks/plausibility.py`` measures it; SECURITY.md).

Pure functions, applied where the service averages frame LLRs: ``models.digits`` (answers and the
content check) and ``models.cohort`` (calibration and the operator's eer report). The library-level
``speakerverify eval`` keeps unbounded LLRs, so its figures compare with earlier runs.
"""

from __future__ import annotations

import numpy as np

# Genuine FSDD frames (dev takes 6-24 against their own speaker's digit model, enrolled on takes
# 0-5, top-8 scoring; 39,447 frames): |LLR| 99% 11.4, 99.9% 15.8, max 20.5; impostor frames reach
# 12.4 at most. 16 leaves 99.9% of genuine frames alone, no impostor frame is clipped, and k
# crafted frames can add at most 16 k / T to a segment's mean (SECURITY.md, "Plausible features").
FRAME_LLR_BOUND = 16.0


def bound_frame_llr(llr: np.ndarray, bound: float = FRAME_LLR_BOUND) -> np.ndarray:
    """Per-frame LLRs (any shape, nats) clipped to [-bound, +bound]; same shape."""
    if bound <= 0:
        raise ValueError(f"bound must be positive, got {bound}")
    return np.clip(np.asarray(llr, dtype=np.float64), -bound, bound)


def bounded_mean_llr(llr: np.ndarray, bound: float = FRAME_LLR_BOUND) -> float:
    """Mean of the bounded per-frame LLRs (T,), nats; -inf for no frames."""
    llr = np.asarray(llr, dtype=np.float64)
    return float(bound_frame_llr(llr, bound).mean()) if llr.size else float("-inf")


def top_share(llr: np.ndarray, k: int) -> float:
    """Share of a segment's summed LLR (T,) carried by its k largest frames; 0 if the sum is <= 0.

    A diagnostic for "a few frames carry the segment": near 1 means the rest contribute nothing.
    """
    llr = np.asarray(llr, dtype=np.float64)
    total = float(llr.sum())
    if total <= 0 or llr.size == 0:
        return 0.0
    return float(np.sort(llr)[::-1][:k].sum() / total)
