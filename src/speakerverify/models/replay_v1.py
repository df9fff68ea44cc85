"""Replay fingerprints, version 1: a compact summary of one utterance's raw Meyda frames and a distance.

Kept only until the service stores ``models.replay`` templates instead (issue 13); new code uses those.

A fingerprint is the utterance's speech frames (within 30 dB of its loudest frame), cepstra c1-c12
(c0 dropped, so a gain change does not move it), mean-normalised over the utterance (so a fixed
channel filter does not either), resampled linearly to ``FP_FRAMES`` frames and kept as float16:
32 x 12 x 2 = 768 bytes.

The distance between two fingerprints is dynamic time warping with the symmetric steps (1,1),
(1,2), (2,1) (weights 2, 2+1, 2+1, so every path weighs n + m) over the per-frame RMS difference of
the 12 coefficients, divided by n + m: the mean RMS cepstral difference along the best alignment.
An utterance sent again (byte-identical, re-encoded as float16, silence trimmed or padded, level
changed) stays within a small fraction of the distance between two natural repetitions of the same
digit by the same speaker (RELIABILITY.md has the FSDD measurement behind ``REPLAY_THRESHOLD``).
"""

from __future__ import annotations

import numpy as np

from ..features.postprocess import speech_mask

FP_FRAMES = 32
FP_COEFFS = 12  # c1..c12
FP_DTYPE = np.dtype("<f2")
FP_BYTES = FP_FRAMES * FP_COEFFS * FP_DTYPE.itemsize
DYNAMIC_RANGE_DB = 30.0
# Chosen on FSDD (benchmarks/reliability.py, RELIABILITY.md): two different takes of one speaker are
# never closer than 2.30, re-sent takes (re-encoded, level-shifted, padded, 5% noise) never farther than
# 0.86; 1.4 is about their geometric mean, a factor ~1.6 from either side.
REPLAY_THRESHOLD = 1.4
NEAREST_K = 8  # candidates (by aligned distance) that get the full DTW
_CHUNK = 1024  # candidates per batch: bounds memory at ~_CHUNK * FP_FRAMES^2 * 8 bytes per array


def fingerprint(mfcc: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """(FP_FRAMES, FP_COEFFS) float16 summary of one utterance's raw Meyda frames (T, >= 13), (T,)."""
    mfcc = np.asarray(mfcc, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if mfcc.ndim != 2 or mfcc.shape[1] < FP_COEFFS + 1 or len(mfcc) != len(energy) or len(mfcc) == 0:
        raise ValueError(f"need mfcc (T, >= {FP_COEFFS + 1}) and energy (T,), got {mfcc.shape} and {energy.shape}")
    mask = speech_mask(energy, DYNAMIC_RANGE_DB)
    x = mfcc[mask] if mask.sum() >= 2 else mfcc
    x = x[:, 1 : FP_COEFFS + 1]
    x = x - x.mean(axis=0)
    if len(x) == 1:
        x = np.repeat(x, 2, axis=0)
    src = np.linspace(0.0, 1.0, len(x))
    dst = np.linspace(0.0, 1.0, FP_FRAMES)
    out = np.stack([np.interp(dst, src, x[:, k]) for k in range(FP_COEFFS)], axis=1)
    return np.clip(out, -60000, 60000).astype(FP_DTYPE)


def encode(fp: np.ndarray) -> bytes:
    return np.ascontiguousarray(fp, dtype=FP_DTYPE).tobytes()


def decode(blob: bytes) -> np.ndarray:
    if len(blob) != FP_BYTES:
        raise ValueError(f"a fingerprint is {FP_BYTES} bytes, got {len(blob)}")
    return np.frombuffer(blob, dtype=FP_DTYPE).reshape(FP_FRAMES, FP_COEFFS)


def distances(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """DTW distance (module docstring) from one fingerprint (L, D) to each of N candidates (N, L, D) -> (N,)."""
    c = np.asarray(candidates, dtype=np.float64)
    if c.ndim == 2:
        c = c[None]
    q = np.broadcast_to(np.asarray(query, dtype=np.float64), (len(c), *np.shape(query)))
    return pair_distances(q, c)


def pair_distances(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """DTW distance between each query (P, L, D) and its own candidate (P, L, D) -> (P,)."""
    q = np.asarray(queries, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64)
    if len(c) == 0:
        return np.zeros(0)
    if len(c) > _CHUNK:
        return np.concatenate([pair_distances(q[i : i + _CHUNK], c[i : i + _CHUNK]) for i in range(0, len(c), _CHUNK)])
    n, m, dim = q.shape[1], c.shape[1], q.shape[2]
    # Frame costs: RMS difference over the coefficients, for every (query frame, candidate frame).
    sq = (q**2).sum(2)[:, :, None] + (c**2).sum(2)[:, None, :] - 2 * np.einsum("nid,njd->nij", q, c)
    cost = np.sqrt(np.maximum(sq, 0.0) / dim)
    inf = np.inf
    # D padded by two rows/columns of +inf so the (1,2) and (2,1) steps need no bounds checks.
    acc = np.full((len(c), n + 2, m + 2), inf)
    cp = np.full((len(c), n + 2, m + 2), inf)
    cp[:, 2:, 2:] = cost
    acc[:, 2, 2] = 2 * cost[:, 0, 0]
    for i in range(2, n + 2):
        diag = acc[:, i - 1, 1:-1] + 2 * cp[:, i, 2:]
        left = acc[:, i - 1, :-2] + 2 * cp[:, i, 1:-1] + cp[:, i, 2:]  # from (i-1, j-2) via (i, j-1)
        down = acc[:, i - 2, 1:-1] + 2 * cp[:, i - 1, 2:] + cp[:, i, 2:]  # from (i-2, j-1) via (i-1, j)
        best = np.minimum(np.minimum(diag, left), down)
        if i == 2:
            best[:, 0] = 2 * cost[:, 0, 0]
        acc[:, i, 2:] = best
    return np.asarray(acc[:, n + 1, m + 1] / (n + m))


def aligned_distances(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Frame-by-frame (no warping) mean RMS difference to each candidate -> (N,); never below the DTW distance."""
    q = np.asarray(query, dtype=np.float32)
    c = np.asarray(candidates, dtype=np.float32)
    if c.ndim == 2:
        c = c[None]
    if len(c) == 0:
        return np.zeros(0)
    return np.asarray(np.sqrt(((c - q[None]) ** 2).mean(axis=2)).mean(axis=1), dtype=np.float64)


def nearest_many(
    queries: np.ndarray,
    candidates: np.ndarray,
    query_keys: np.ndarray | None = None,
    candidate_keys: np.ndarray | None = None,
    k: int = NEAREST_K,
) -> np.ndarray:
    """``nearest`` for each of S queries (S, L, D) among candidates (N, L, D), batched. (S,)

    With keys (S,) and (N,), a query is compared only with the candidates of its own key (its digit).
    """
    q = np.asarray(queries, dtype=np.float32)
    c = np.asarray(candidates, dtype=np.float32)
    if len(c) == 0:
        return np.full(len(q), np.inf)
    # aligned[s, i]: frame-by-frame mean RMS difference of query s and candidate i
    sq = (q**2).sum(2)[:, None, :] + (c**2).sum(2)[None, :, :] - 2 * np.einsum("sld,nld->snl", q, c)
    aligned = np.sqrt(np.maximum(sq, 0.0) / q.shape[2]).mean(axis=2).astype(np.float64)
    if query_keys is not None and candidate_keys is not None:
        aligned[np.asarray(query_keys)[:, None] != np.asarray(candidate_keys)[None, :]] = np.inf
    kk = min(k, len(c))
    pick = np.argpartition(aligned, kk - 1, axis=1)[:, :kk] if kk < len(c) else np.tile(np.arange(len(c)), (len(q), 1))
    chosen = np.take_along_axis(aligned, pick, axis=1)
    dtw = pair_distances(np.repeat(q, kk, axis=0), c[pick.ravel()]).reshape(len(q), kk)
    dtw[~np.isfinite(chosen)] = np.inf  # picked only to fill k: another key
    return np.minimum(dtw.min(axis=1), chosen.min(axis=1))


def nearest(query: np.ndarray, candidates: np.ndarray, k: int = NEAREST_K) -> float:
    """DTW distance to the closest candidate among the ``k`` closest by aligned distance; +inf if none.

    The DTW path set includes the diagonal, so DTW <= aligned distance: a candidate within the
    threshold without warping is always found. Warped near-copies are found when they are among
    the ``k`` closest unwarped, which keeps the check O(N) in the number of stored fingerprints.
    """
    c = np.asarray(candidates)
    if c.ndim == 2:
        c = c[None]
    if len(c) == 0:
        return float("inf")
    aligned = aligned_distances(query, c)
    pick = np.argsort(aligned)[:k]
    return float(min(distances(query, c[pick]).min(), aligned[pick].min()))
