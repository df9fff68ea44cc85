"""Replay templates: does a segment's time course repeat a stored take or answer, in whole or in part?

Every feature value reaching the server may be crafted, so a replay is any segment whose cepstral time
course matches something the user already sent (same digit): a re-sent copy, a copy with noise added,
frames dropped, duplicated or interpolated (time stretch), trimmed ends, audio re-framed by a few
samples, or a splice of pieces of two or three stored takes.

Template (``template``), from the raw Meyda frames of one take or segment:

* the frames within ``DYNAMIC_RANGE_DB`` of the loudest (trims silence, which every take shares);
* cepstra c1-c12, *not* mean-normalised: normalising by the utterance mean shifts every piece of a splice
  or a trimmed copy by a different offset (measured: it lost most splices); c0 is dropped so the level
  does not count;
* a moving average over ``SMOOTH_FRAMES`` frames: natural trajectories are slow, white noise is not, so
  the average keeps the time course and divides added noise power by up to 5;
* two statistics rows first: each coefficient's standard deviation over the raw speech frames (sets the
  per-pair coefficient weights) and its roughness, the standard deviation of the second difference over
  sqrt(6) (for white noise of variance s^2 that is s; natural frames are rough too, about 0.1-0.4 of
  the variance on FSDD, so only roughness one side has beyond the other's is taken as added noise).

Distance (``replay_distance``): a pair's frame cost is the weighted squared difference of the smoothed
frames, weights 1 / (the coefficient's variance shared by both), minus the power that *extra* roughness
of one side (beyond ``ROUGHNESS_MARGIN`` times the other's) leaves after the average: added noise is
measured and subtracted instead of being counted as a difference. A query frame is compared with the
nearest point between two consecutive stored frames (re-framing by part of a hop lands between them), and
a frame's cost is capped at ``CELL_CAP`` (so window distances are at most 1). Windows of a third of the query's
frames (at least ``MIN_WINDOW``), at every start, are aligned to any stretch of the stored frames
(subsequence DTW: open begin and end on the stored side; each query frame advances the stored side by
0, 1 or 2 frames, never 0 twice, so slopes 1/2..2); the distance is the root of the mean frame cost of
the best window. A second, whole-utterance comparison with each side's mean removed (scaled by
``WHOLE_SCALE``) catches a copy with a constant offset added to every frame; the distance is the smaller
of the two. A copy scores about 0; ``REPLAY_THRESHOLD`` has the FSDD measurement behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..features.postprocess import speech_mask

COEFFS = 12  # c1..c12
HEADER_ROWS = 2  # per-coefficient standard deviation, per-coefficient roughness
TEMPLATE_DTYPE = np.dtype("<f2")
DYNAMIC_RANGE_DB = 30.0
SMOOTH_FRAMES = 5  # 50 ms; 7 and 9 smear splice boundaries and lowered genuine distances (dev takes)
WINDOW_FRACTION = 1.0 / 3.0  # a run of a third of the segment is enough to call it a replay
MIN_WINDOW = 6  # frames; shorter windows let different takes match by chance
ROUGHNESS_MARGIN = 1.3  # natural roughness differs between takes by up to about this factor
NOISE_DOWNWEIGHT = 3.0  # coefficients with measured added noise count less (Wiener-like)
# A window frame's cost counts at most this much (in units of the coefficients' shared variance): the one
# or two frames of a window that the moving average blurred across a splice boundary cannot outweigh the
# rest (dev takes: splices of thirds caught 99.2% -> 99.8%, genuine 4th-lowest distance 0.80 -> 0.76).
CELL_CAP = 1.0
_MAX_ABS = 60000.0  # float16 range
_VERSION = 2
# Threshold and whole-utterance scale: measured by benchmarks/replay_attacks.py on FSDD (RELIABILITY.md,
# "Replay detection"), chosen on the development takes 6-24 only. Development genuine fresh takes (1140,
# each against the 49 other takes of its speaker and digit): best-window minimum 0.603 (1st percentile
# 0.725), whole-utterance minimum 0.781. WHOLE_SCALE = 0.603 / 0.781 gives both the same margin;
# REPLAY_THRESHOLD = 0.50 is 17% below the development minimum (test takes: minimum 0.552, 0 of 1860).
# Copies with noise of 0.75 x the coefficient std score 0 (median) to ~0.45 (99th percentile).
REPLAY_THRESHOLD = 0.50
WHOLE_SCALE = 0.77
_TEMPLATE_BYTES_PER_FRAME = COEFFS * TEMPLATE_DTYPE.itemsize


def template(mfcc: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Replay template of one take or segment.

    Parameters
    ----------
    mfcc : (T, >= 13) array
        Raw Meyda MFCC frames (int16 input scale), c0 first.
    energy : (T,) array
        Meyda energy of the same frames.

    Returns
    -------
    (HEADER_ROWS + L, COEFFS) float16 array: row 0 the standard deviation of each of c1-c12 over the L
    speech frames, row 1 their roughness (see module docstring), rows 2.. the smoothed c1-c12 of the L
    speech frames (cepstral units, int16 scale). L <= T; 24 bytes per frame plus 48.

    Raises
    ------
    ValueError
        If the shapes do not match, T is 0, or a value is not finite.
    """
    mfcc = np.asarray(mfcc, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if mfcc.ndim != 2 or mfcc.shape[1] < COEFFS + 1 or energy.shape != (len(mfcc),) or len(mfcc) == 0:
        raise ValueError(f"need mfcc (T, >= {COEFFS + 1}) and energy (T,), got {mfcc.shape} and {energy.shape}")
    if not (np.all(np.isfinite(mfcc)) and np.all(np.isfinite(energy))):
        raise ValueError("mfcc and energy must be finite")
    mask = speech_mask(energy, DYNAMIC_RANGE_DB)
    # Clip first: beyond float16's range a crafted value would become inf in the stored template.
    x = np.clip(mfcc[mask] if mask.sum() >= 4 else mfcc, -_MAX_ABS, _MAX_ABS)[:, 1 : COEFFS + 1]
    rough = np.sqrt(np.diff(x, 2, axis=0).var(axis=0) / 6.0) if len(x) > 3 else np.zeros(COEFFS)
    out = np.vstack([x.std(axis=0), rough, _smooth(x)])
    return np.clip(out, -_MAX_ABS, _MAX_ABS).astype(TEMPLATE_DTYPE)


def _smooth(x: np.ndarray) -> np.ndarray:
    """Moving average over SMOOTH_FRAMES frames along axis 0, renormalised at the edges. (L, D) -> (L, D)."""
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    lo, hi = _span(len(x))
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def _span(n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last frame each smoothed frame of an n-frame utterance averages. (n,), (n,)."""
    i = np.arange(n)
    half = SMOOTH_FRAMES // 2
    return np.maximum(i - half, 0), np.minimum(i + half + 1, n)


def encode(tpl: np.ndarray) -> bytes:
    """Bytes of a template (a version byte, then little-endian float16 row by row); ``decode`` inverts it."""
    t = _check(tpl)
    return bytes([_VERSION]) + np.ascontiguousarray(t, dtype=TEMPLATE_DTYPE).tobytes()


def decode(blob: bytes) -> np.ndarray:
    """Template from ``encode``'s bytes. (HEADER_ROWS + L, COEFFS) float16. ValueError if malformed."""
    if len(blob) < 1 or blob[0] != _VERSION:
        raise ValueError(f"not a version-{_VERSION} replay template")
    body = blob[1:]
    if len(body) % _TEMPLATE_BYTES_PER_FRAME:
        raise ValueError(f"a template body is a multiple of {_TEMPLATE_BYTES_PER_FRAME} bytes, got {len(body)}")
    return _check(np.frombuffer(body, dtype=TEMPLATE_DTYPE).reshape(-1, COEFFS))


def decode_many(blobs: Sequence[bytes]) -> list[np.ndarray]:
    """``decode`` of each blob, validated in bulk (one finiteness check for all: a user's history is
    hundreds of templates and per-template checks would cost as much as comparing them). ValueError if
    any is malformed."""
    if any(len(b) < 1 or b[0] != _VERSION or (len(b) - 1) % _TEMPLATE_BYTES_PER_FRAME for b in blobs):
        raise ValueError(f"not a version-{_VERSION} replay template")
    rows = [(len(b) - 1) // _TEMPLATE_BYTES_PER_FRAME for b in blobs]
    if any(r < HEADER_ROWS + 1 for r in rows):
        raise ValueError(f"a template is ({HEADER_ROWS} + L, {COEFFS}) with L >= 1")
    flat = np.frombuffer(b"".join(b[1:] for b in blobs), dtype=TEMPLATE_DTYPE).reshape(-1, COEFFS)
    starts = np.cumsum([0, *rows[:-1]])
    if not np.all(np.isfinite(flat)) or np.any(flat[(starts[:, None] + np.arange(HEADER_ROWS)).ravel()] < 0):
        raise ValueError("a template holds finite values and non-negative statistics")
    return [flat[a : a + r] for a, r in zip(starts, rows, strict=True)]


def _check(tpl: np.ndarray) -> np.ndarray:
    t = np.asarray(tpl)
    if t.ndim != 2 or t.shape[1] != COEFFS or len(t) < HEADER_ROWS + 1:
        raise ValueError(f"a template is ({HEADER_ROWS} + L, {COEFFS}) with L >= 1, got {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(t[:HEADER_ROWS] < 0):
        raise ValueError("a template holds finite values and non-negative statistics")
    return t


def replay_distance(query: np.ndarray, stored: np.ndarray) -> float:
    """Distance (module docstring) from a segment's template to one stored template; ~0 for a copy.

    Not symmetric: windows are cut from ``query``. Below ``REPLAY_THRESHOLD`` means a replay.
    """
    return float(nearest_many([query], [stored], np.zeros(1, int), np.zeros(1, int))[0])


def nearest_many(
    segment_templates: Sequence[np.ndarray],
    stored_templates: Sequence[np.ndarray],
    digits: np.ndarray,
    stored_digits: np.ndarray,
    exact_below: float = np.inf,
) -> np.ndarray:
    """Distance from each segment to the closest stored template of the same digit.

    Parameters
    ----------
    segment_templates : S templates, each (HEADER_ROWS + L_s, COEFFS)
    stored_templates : N templates (the user's enrolment takes and earlier answer segments)
    digits : (S,) int, the digit each segment answers
    stored_digits : (N,) int, the digit of each stored template
    exact_below : distances below this are exact; a template whose lower bound (``_bounds``) is at least
        this is not aligned, and its bound stands for its distance. The replay check passes
        ``REPLAY_THRESHOLD``: the same decisions for a fraction of the work (no fresh FSDD take's bound is
        below it). +inf (the default): every distance exact.

    Returns
    -------
    (S,) float64: ``replay_distance`` to the nearest same-digit stored template (exact if below
    ``exact_below``, else a value >= it); +inf if there is none.
    """
    digits = np.asarray(digits).reshape(-1)
    stored_digits = np.asarray(stored_digits).reshape(-1)
    if len(digits) != len(segment_templates) or len(stored_digits) != len(stored_templates):
        raise ValueError("one digit per template is needed")
    out = np.full(len(segment_templates), np.inf)
    # One bank per prompted digit: stored templates of other digits are never compared (nor checked).
    for digit in np.unique(digits):
        stored = [np.asarray(stored_templates[int(i)]) for i in np.flatnonzero(stored_digits == digit)]
        if stored:
            bank = _Bank(stored)
            for s in np.flatnonzero(digits == digit):
                out[s] = _distances(_check(segment_templates[int(s)]), bank, exact_below).min()
    return out


class _Bank:
    """Stored templates padded to one array: frames (N, M, D) float32 (0 past each end, where ``pad``
    (N, M) is +inf), their means (N, D), per-frame smoothing gains (N, M), standard deviations and
    roughness (N, D)."""

    def __init__(self, templates: list[np.ndarray]) -> None:
        if any(t.ndim != 2 or t.shape[1] != COEFFS or len(t) < HEADER_ROWS + 1 for t in templates):
            raise ValueError(f"a template is ({HEADER_ROWS} + L, {COEFFS}) with L >= 1")
        self.length = np.array([len(t) - HEADER_ROWS for t in templates])
        # One concatenation, then finiteness checked in bulk: per-template checks cost more than the DTW.
        m = int(self.length.max())
        self.frames = np.zeros((len(templates), m, COEFFS))
        head = np.empty((len(templates), HEADER_ROWS, COEFFS))
        for i, t in enumerate(templates):
            head[i] = t[:HEADER_ROWS]
            self.frames[i, : self.length[i]] = t[HEADER_ROWS:]
        # Finiteness checked once for the bank: per-template checks cost more than the alignment.
        if not (np.all(np.isfinite(self.frames)) and np.all(np.isfinite(head))) or np.any(head < 0):
            raise ValueError("a template holds finite values and non-negative statistics")
        self.std, self.rough = head[:, 0], head[:, 1]
        cols = np.arange(m)[None, :]
        valid = cols < self.length[:, None]
        self.pad = np.where(valid, 0.0, np.inf)
        self.gain = np.where(valid, 1.0 / np.maximum(_window_size(self.length[:, None], cols), 1), 0.0)
        self.mean = (self.frames.sum(axis=1) / self.length[:, None]).astype(np.float32)
        self.steps = (np.diff(self.frames, axis=1) * (valid[:, 1:, None])).astype(np.float32)
        self.frames = self.frames.astype(np.float32)


def _window_size(n: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Frames the edge-renormalised average spans at frame i of an n-frame utterance (broadcasts)."""
    half = SMOOTH_FRAMES // 2
    return np.minimum(i + half + 1, n) - np.maximum(i - half, 0)


def _gain(n: int) -> np.ndarray:
    """Per smoothed frame, the fraction of a white noise's power the edge-renormalised average keeps. (n,)"""
    return 1.0 / _window_size(np.array(n), np.arange(n))


def _distances(query: np.ndarray, bank: _Bank, exact_below: float = np.inf) -> np.ndarray:
    """``replay_distance`` from one query template to each stored template of ``bank`` (exact below
    ``exact_below``, else a lower bound that is at least it). (N,)"""
    part, whole = _parts(query, bank, exact_below)
    return np.minimum(part, WHOLE_SCALE * whole)


def _parts(query: np.ndarray, bank: _Bank, exact_below: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Best-window distance and whole-utterance mean-removed distance to each template of ``bank``. 2 x (N,)

    Each is exact where its lower bound (``_bounds``; for the whole-utterance one, scaled by ``WHOLE_SCALE``)
    is below ``exact_below``; elsewhere the bound itself (the alignment is skipped: it is most of the cost).
    """
    qx = query[HEADER_ROWS:].astype(np.float32)
    weights, bias_q, bias_s = _pair_terms(query, bank.std, bank.rough, _gain(len(qx)), bank.gain)
    off = bias_s - bank.pad  # padding columns: +inf cost
    part, centred = _costs(qx, bank.frames, bank.steps, bank.mean, weights)
    # Summed in float64 and rounded once into float32, into one buffer: the cost matrices are (N, Lq, M),
    # ~0.5 MB each, and a temporary that size costs a fresh allocation (page faults) per use.
    shift = np.empty_like(part)
    np.add(bias_q[:, :, None], off[:, None, :], out=shift, casting="same_kind")
    part -= shift
    centred -= shift
    np.minimum(part, CELL_CAP, out=part)
    width = min(len(qx), max(MIN_WINDOW, round(WINDOW_FRACTION * len(qx))))
    out = []
    for cost, w, scale in ((part, width, 1.0), (centred, len(qx), WHOLE_SCALE)):
        dist = _bounds(cost, w)
        # A margin over float32 rounding (the bound and the alignment sum the same cells in other orders).
        close = scale * dist < exact_below + _BOUND_MARGIN
        if close.any():
            dist[close] = _subsequence(cost[close], w)
        out.append(dist)
    return out[0], out[1]


_BOUND_MARGIN = 1e-3


def _bounds(cost: np.ndarray, width: int) -> np.ndarray:
    """A lower bound of ``_subsequence(cost, width)``, (N, Lq, M) -> (N,): every path of a window takes one
    cell of each of its ``width`` query rows, so its sum is at least the sum of those rows' minima."""
    lowest = cost.min(axis=2).astype(np.float64)  # (N, Lq)
    c = np.concatenate([np.zeros((len(cost), 1)), np.cumsum(lowest, axis=1)], axis=1)
    total = (c[:, width:] - c[:, :-width]).min(axis=1) / width
    return np.sqrt(np.maximum(total, 0.0))


def _pair_terms(
    query: np.ndarray, std: np.ndarray, rough: np.ndarray, gain_q: np.ndarray, gain_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficient weights (N, D) and the noise power to subtract per query frame (N, Lq) and stored frame (N, M).

    Roughness one side has beyond ``ROUGHNESS_MARGIN`` times the other's is taken as added white noise
    (variance ``extra``): it inflated that side's variance (removed before weighting) and adds
    ``gain * extra`` to each smoothed frame's squared difference (subtracted).
    """
    qv, qr = query[0].astype(np.float64) ** 2, query[1].astype(np.float64) ** 2
    sv, sr = std**2, rough**2
    extra_q = np.maximum(qr[None, :] - ROUGHNESS_MARGIN * sr, 0.0)
    extra_s = np.maximum(sr - ROUGHNESS_MARGIN * qr[None, :], 0.0)
    shared = np.maximum((qv[None, :] - extra_q + sv - extra_s) / 2, 0.05 * (qv[None, :] + sv)) + 1e-6
    weights = 1.0 / (shared + NOISE_DOWNWEIGHT * (extra_q + extra_s) / SMOOTH_FRAMES)
    bias_q = (extra_q * weights).sum(axis=1)[:, None] * gain_q[None, :]
    bias_s = (extra_s * weights).sum(axis=1)[:, None] * gain_s
    return weights, bias_q, bias_s


def _costs(
    qx: np.ndarray, frames: np.ndarray, steps: np.ndarray, means: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted squared distances (N, Lq, M) float32 from each query frame to each stored frame, as they are
    and with each side's mean removed.

    The distance to stored frame j is taken to the nearest point of the segment from frame j to frame
    j + 1 (``steps``: (N, M - 1, D) differences, 0 where j + 1 is past the end): audio re-framed by part of
    a hop, or frames interpolated, fall between stored frames. The centred costs follow from the plain
    ones (difference minus delta, delta = mean difference), so the matrix products serve both. float32
    throughout (half the memory traffic); both sides are first shifted by the query's mean so the
    expansion |q|^2 + |s|^2 - 2 q.s does not cancel large numbers.
    """
    centre = qx.mean(axis=0)
    qx, frames = qx - centre, frames - centre  # padding frames become -centre: masked by ``pad`` later
    w = weights.astype(np.float32)
    wq = qx[None, :, :] * w[:, None, :]  # (N, Lq, D)
    plain = np.matmul(wq, frames.transpose(0, 2, 1))
    plain *= -2.0
    plain += (wq * qx[None]).sum(axis=2)[:, :, None]
    plain += np.einsum("nmd,nd->nm", frames * frames, w)[:, None, :]
    delta = -(means - centre)  # (N, D): query mean (now 0) minus stored mean
    wd = w * delta
    along_q = wq @ delta[:, :, None]  # (N, Lq, 1): w * delta . q_i
    along_s = np.einsum("nmd,nd->nm", frames, wd)[:, None, :]  # (N, 1, M): w * delta . s_j
    # centred = plain - 2 (along_q - along_s) + |delta|^2_w, in that order, in one buffer (the (N, Lq, M)
    # temporaries' allocations cost as much as the arithmetic; the same operations give the same values)
    centred = np.subtract(along_q, along_s)
    centred *= 2.0
    np.subtract(plain, centred, out=centred)
    centred += (wd * delta).sum(axis=1)[:, None, None]
    if frames.shape[1] > 1:
        ws = steps * w[:, None, :]
        size = (ws * steps).sum(axis=2)[:, None, :]  # (N, 1, M - 1): |step|^2
        # towards: (q_i - s_j) . step_j, for the plain and for the centred differences
        towards = np.matmul(wq, steps.transpose(0, 2, 1))
        towards -= (ws * frames[:, :-1]).sum(axis=2)[:, None, :]
        scratch = np.empty((3, *towards.shape), dtype=towards.dtype)
        _onto_segment(plain[..., :-1], towards, size, scratch)
        towards -= np.einsum("nmd,nd->nm", steps, wd)[:, None, :]
        _onto_segment(centred[..., :-1], towards, size, scratch)
    return plain, centred


def _onto_segment(cost: np.ndarray, towards: np.ndarray, size: np.ndarray, scratch: np.ndarray) -> None:
    """In place: squared distance to the nearest point s_j + t step_j, t in [0, 1], from that to s_j.
    ``scratch``: (3, *towards.shape) buffers of towards' dtype (overwritten)."""
    t, u, v = scratch
    np.divide(towards, np.maximum(size, 1e-12), out=t)  # a zero step has towards = 0, so t = 0
    np.clip(t, 0.0, 1.0, out=t)
    # cost -= t (2 towards - t size), the same operations in the same order, in the scratch buffers
    np.multiply(towards, 2.0, out=u)
    np.multiply(t, size, out=v)
    u -= v
    u *= t
    cost -= u


def _subsequence(cost: np.ndarray, width: int) -> np.ndarray:
    """Best window of ``width`` query rows aligned to any stretch of stored columns. (N, Lq, M) -> (N,)

    Each query row advances the stored column by 0, 1 or 2, never by 0 twice in a row (slopes 1/2..2),
    so every path has exactly ``width`` cells and its mean cost needs no path-length normalisation.
    ``d1``: best sum ending at a cell entered by an advance; ``d0``: entered by a repeat.
    """
    rows = np.lib.stride_tricks.sliding_window_view(cost, width, axis=1)  # (N, windows, M, width)
    d1 = rows[..., 0].copy()
    d0 = np.full_like(d1, np.inf)
    best = np.empty_like(d1)
    before = np.full_like(d1, np.inf)
    for k in range(1, width):
        np.minimum(d0, d1, out=best)
        before[..., 1] = best[..., 0]
        np.minimum(best[..., 1:-1], best[..., :-2], out=before[..., 2:])
        c = rows[..., k]
        np.add(c, d1, out=d0)  # a repeat must follow an advance
        np.add(c, before, out=d1)
    total = np.minimum(d0, d1).min(axis=(1, 2)) / width
    return np.sqrt(np.maximum(total, 0.0))
