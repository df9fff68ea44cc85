"""Could these raw frames have come from real audio through Meyda at this configuration?

Every feature value reaches the server from a browser and may be crafted. This module
answers, from the raw Meyda frames alone (mfcc (T, n_mfcc), energy (T,)), whether they are
physically possible and speech-like, and if not why; the service answers 422 ``not_speech``.

Tests, cheapest first; the first that fails gives the reason:

1. **range**: energies and each coefficient within bounds derived from the configuration;
2. **consistency**: per frame, some log-mel vector within that frame's range produces the 13
   coefficients, the frame energy is large enough for c0, and large enough for the band powers
   those coefficients need (exact physics, within float16 tolerance: no real frame fails);
3. **degenerate**: the speech frames are not absent, repeated, exact ramps, or unrelated in time
   (frames overlap by 69%, so real coefficients and energies change smoothly);
4. **ubm**: the post-processed speech frames look like speech to the UBM: not too many below its
   log-likelihood floor, no coefficient far more spread than speech.

Derivation of the bounds
------------------------
Notation: frame x (N = frame_size samples) at input scale, |x_n| <= A, where A =
``input_scale * peak`` and ``peak`` (default 2, i.e. 6 dB of headroom) allows for browser
resampling overshoot of a clipped full-scale signal. Window w (periodic Hamming), y = w x.
Meyda's energy is E = sum_n y_n^2, so

    0 <= E <= E_max = A^2 sum_n w_n^2                     (= 101.73 A^2 for N = 256).

Power spectrum P_k = |Y_k|^2, k = 0 .. N/2 - 1 (Meyda drops the Nyquist bin). Parseval:
sum_{k=0}^{N-1} |Y_k|^2 = N E, and bins k and N - k are equal for real y, so
sum_{k=1}^{N/2-1} P_k = (N E - P_0 - P_{N/2}) / 2 <= N E / 2. Meyda's triangles have peak 1
and overlap so that every bin's column sum h_k = sum_j H_jk is <= 1, and bin 0 (DC) has
h_0 = 0 (the first triangle rises from 0 at bin 0). Hence the band powers B_j = sum_k H_jk P_k
satisfy B_j >= 0 and sum_j B_j <= N E / 2 <= N E_max / 2, so each log-mel value is

    0 <= L_j = ln(1 + B_j) <= L_max = ln(1 + N E_max / 2)   (30.27 at A = 32768, 31.66 at 2x).

MFCCs are Meyda's DCT-II without normalisation, c_k = sum_j D_kj L_j with
D_kj = 2 cos(pi k (2 j + 1) / (2 M)), M = mel_bands. Over the box [0, L_max]^M the extremes are
c_k in [L_max sum_j min(0, D_kj), L_max sum_j max(0, D_kj)]; c0 in [0, 2 M L_max] (1,456 at 2x;
|c_k| <= 463.9 for k >= 1). Per frame the box is tighter: B_j <= N E / 2 of that frame, so
L_j <= u_t = min(L_max, ln(1 + N E_t / 2) + 0.05), the 0.05 covering float16 on ln(1 + E).

Consistency: the 13 coefficients are 13 of the M outputs of an orthogonal-row transform of L,
so the question is whether the affine set {L : D L = c} meets the box [0, u_t]^M. It is solved
by alternating projections (exact projection on the affine set, clipping on the box), all frames
at once, then exactly (bounded least squares) for any frame the fast pass leaves above tolerance.
Tolerance: the binary wire form carries float16 MFCCs (unit roundoff 2^-11), so the true L of a
real frame leaves a residual ||D L - c||_2 <= 2^-11 ||c||_2 plus float32 noise; a frame is refused
when the smallest residual over the box exceeds 2^-10 ||c||_2 + 0.01 (twice that, plus 0.01).

Band-power budget (the strongest exact test): the same Parseval step gives more than a bound per
band, sum_j B_j <= N E / 2, i.e. LSE(L) = ln sum_j e^{L_j} <= theta = ln(M + N E / 2). A frame is
possible only if some L >= 0 with D L = c meets the budget; LSE is convex, so the question is a
convex minimisation over the 10-dimensional null space of D (damped Newton, all frames at once;
frames it cannot certify are solved by SLSQP). Tolerances: float16 on c moves the minimiser by
eta = 2 * 2^-11 * max_j sum_k |D^+_jk| |c_k| + 0.01 in every L_j, so L >= -eta is allowed and the
budget is theta + 0.05 + eta. Real speech is within ~0.2 nats of its budget (the filters' column
sums are 1 over bins 1-115, so sum_j B_j is nearly all of N E / 2), which is why coefficients
scaled, borrowed or synthesised without a spectrum behind them rarely fit.

c0 and energy: c0 / 2 = sum_j ln(1 + B_j) <= M ln(1 + sum_j B_j / M) (concavity of ln) and
sum_j B_j <= N E / 2, so with the gap g = ln(1 + N E / (2 M)) - c0 / (2 M), every real frame has
g >= 0. Refused when g < -0.05 (float16 on c0 moves c0 / 2M by <= 2^-11 L_max = 0.016, float16
on ln(1 + E) moves the log term by < 0.02). The gap's other side has no exact bound (DC and
out-of-band power reach E but no mel band: a full-scale DC frame has g = 25.8, and g <=
ln(1 + N E_max / 2M) = 28.6 is all the range test implies). A measured upper limit was tried and
dropped: clean and noisy speech stays below g = 7.6, but a DC offset of 5% of the peak puts up to
46% of the speech frames (its pauses) above 10. So was a measured test that ln E and c0 rise and
fall together (correlation >= 0.3 over the speech frames; dev's worst 0.37): FSDD takes went down
to -0.19. The band-power budget below the c0 gap does that job exactly.

The empirical thresholds (``Thresholds``) were tuned by ``benchmarks/plausibility.py`` on
speechocean762 (speech and its silences, clean, with white and pink noise, at -40 to 0 dBFS)
and are reported there on all of FSDD, held out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from scipy.optimize import lsq_linear, minimize

from .config import FeatureConfig
from .meyda import hamming_window, mel_filterbank
from .postprocess import DEFAULT_POST, PostConfig, speech_mask

FLOAT16_UNIT = 2.0**-11  # unit roundoff of float16, the wire form's MFCC type
CONSISTENCY_REL = 2 * FLOAT16_UNIT  # of ||c||_2; twice the float16 error of a real frame
CONSISTENCY_ABS = 0.01  # float32 noise of Meyda's log-mel and DCT is ~1e-4
C0_ENERGY_TOL = 0.05  # in ln units; float16 on c0 and on ln(1 + E) move the gap by < 0.04
MAX_EXACT_SOLVES = 32  # per segment and test: bounds the CPU a crafted segment can cost (~1 ms each)
RANGE_REL = 1e-3  # relative slack on the range bounds for float16 / float32 rounding
ROUGHNESS_MIN_RUNS = 10  # runs of three speech frames: fewer say too little about a take's time course


@dataclass(frozen=True)
class Bounds:
    """Limits any real frame obeys at a configuration (see the module docstring).

    Attributes
    ----------
    peak_abs : float
        Largest |sample| at input scale, A.
    energy_max : float
        E_max = A^2 sum w^2, Meyda energy units (input scale squared).
    logmel_max : float
        L_max = ln(1 + N E_max / 2), natural-log units.
    coef_lo, coef_hi : (n_mfcc,) float64
        Extremes of each coefficient over log-mel vectors in [0, L_max]^M.
    dct : (n_mfcc, M) float64
        Meyda's DCT-II rows (scale 2, not orthonormal).
    """

    peak_abs: float
    energy_max: float
    logmel_max: float
    coef_lo: np.ndarray
    coef_hi: np.ndarray
    dct: np.ndarray

    # Cached on the instance (``bounds`` keeps one per configuration): every take and answer segment needs
    # them, and a pseudo-inverse costs more than the test that uses it.
    @cached_property
    def affine_pinv(self) -> np.ndarray:
        """D^+ = D^T (D D^T)^-1, (M, n_mfcc): the minimum-norm log-mel vector of some coefficients."""
        return _read_only(np.linalg.pinv(self.dct))

    @cached_property
    def null_projection_t(self) -> np.ndarray:
        """(I - D^+ D)^T, (M, M): the projection's transpose onto D's null space (``logmel_residuals``)."""
        return _read_only((np.eye(self.dct.shape[1]) - self.affine_pinv @ self.dct).T)


def _read_only(x: np.ndarray) -> np.ndarray:
    x.flags.writeable = False  # shared by every caller
    return x


@lru_cache(maxsize=8)
def bounds(config: FeatureConfig, peak: float = 2.0) -> Bounds:
    """Bounds of raw frames at ``config`` for samples within ``peak`` x full scale (2 = 6 dB headroom)."""
    n, m = config.frame_size, config.mel_bands
    window = hamming_window(n).astype(np.float64)
    bank = mel_filterbank(max(m, config.n_mfcc), config.sample_rate, n)
    # The derivation needs bin 0 outside every band and column sums <= 1; check, do not assume.
    if bank[:, 0].any() or bank.sum(axis=0).max() > 1 + 1e-9:
        raise ValueError("the filterbank does not have the shape the bounds were derived for")
    peak_abs = config.input_scale * peak
    energy_max = peak_abs**2 * float(np.sum(window**2))
    logmel_max = float(np.log1p(n * energy_max / 2))
    j = np.arange(m)
    dct = 2 * np.cos(np.pi * np.arange(config.n_mfcc)[:, None] * (2 * j[None] + 1) / (2 * m))
    coef_lo = logmel_max * np.minimum(dct, 0).sum(axis=1)
    coef_hi = logmel_max * np.maximum(dct, 0).sum(axis=1)
    return Bounds(peak_abs, energy_max, logmel_max, coef_lo, coef_hi, dct)


@dataclass(frozen=True)
class Thresholds:
    """Measured limits: extremes of speechocean762 (dev) with margin; ``benchmarks/plausibility.py``
    prints the dev extremes they come from and the held-out FSDD values (SECURITY.md).

    Attributes
    ----------
    linear_fraction : float
        Refuse when more than this fraction of speech frames continue an exact ramp (dev max 0.056:
        the pauses of a take with a DC offset are nearly constant frames).
    min_distinct_fraction : float
        Refuse when fewer than this fraction of the speech frames have distinct c1-c12 (dev min 1.0).
    smoothness_max : float
        Von Neumann ratio of c1-c12 over the speech frames, sum |c_t - c_t-1|^2 / (2 sum |c_t - mean|^2):
        1 for frames independent in time, small for real frames, which overlap by 69% (dev max 0.17).
    energy_smoothness_max : float
        The same ratio for ln(1 + E) over all frames (dev max 0.05; FSDD reaches 0.23, its sharper
        onsets and digital silences; shuffled takes have >= 0.59).
    roughness_min : float
        Refuse c1-c12 smoother in time than speech (``roughness``): cepstra smoothed by a moving average,
        then flattened, fit every user's noisy copies (SECURITY.md "Other spectral edits"). Real noise
        only raises it: dev min 0.149 (FSDD held out 0.122; FSDD development takes in white, pink and
        babble at 5-20 dB: 0.151); a 5-frame average: median 0.075.
    ubm_floor, ubm_ceiling : float
        Per-frame UBM log-likelihood (nats, post-processed frames): dev's 0.1% and 99.9% quantiles.
    floor_fraction : float
        Refuse when more than this fraction of speech frames are below the floor (dev max 0.19 over
        all conditions; first set at 0.3, which refused FSDD takes up to 0.33, so raised to 0.5).
        The fraction above the ceiling is reported in the details but refuses nothing: a ceiling
        at 10x dev's worst fraction (0.02) still refused FSDD takes whose steady pauses (digital
        near-silence, a DC offset) sit close to the UBM's silence components (up to 0.21).
    spread_max : float
        Largest ratio of a static coefficient's spread over the speech frames to the UBM's global
        spread of that dimension (dev max 2.2 on every 5th file at -40 and 0 dBFS).
    ubm_id : str
        The UBM the ubm thresholds were measured under; another UBM skips the ubm test (its
        log-likelihoods live on another scale) until the benchmark is re-run for it.
    """

    linear_fraction: float = 0.3
    min_distinct_fraction: float = 0.5
    smoothness_max: float = 0.6
    energy_smoothness_max: float = 0.45
    roughness_min: float = 0.1
    ubm_floor: float = -113.2
    ubm_ceiling: float = -63.5
    floor_fraction: float = 0.5
    spread_max: float = 3.0
    ubm_id: str = "speechocean762-8k-256-mfcc-8k-v1-c1-12-d-dd-30db-cmn-v1"


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`check`.

    ok : bool; reason : str or None, one sentence naming the test and the frame when it fails;
    test : the failing test's name ("range", "consistency", "degenerate", "ubm")
    or None; details : the measured quantities of every test that ran (floats and ints).
    """

    ok: bool
    reason: str | None = None
    test: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def range_fault(mfcc: np.ndarray, energy: np.ndarray, b: Bounds) -> str | None:
    """The first frame outside the configuration's bounds, described; None if all are inside.

    mfcc (T, n_mfcc) and energy (T,) raw Meyda frames.
    """
    slack = RANGE_REL * b.coef_hi[0]  # float rounding of the largest value, c0 near its maximum
    bad_e = np.flatnonzero((energy < 0) | (energy > b.energy_max * (1 + RANGE_REL)))
    if len(bad_e):
        t = int(bad_e[0])
        return f"frame {t}: energy {energy[t]:.4g} outside [0, {b.energy_max:.4g}]"
    outside = (mfcc < b.coef_lo - slack) | (mfcc > b.coef_hi + slack)
    if outside.any():
        t, k = (int(i) for i in np.argwhere(outside)[0])
        return f"frame {t}: c{k} = {mfcc[t, k]:.4g} outside [{b.coef_lo[k]:.1f}, {b.coef_hi[k]:.1f}]"
    return None


def logmel_ceiling(energy: np.ndarray, config: FeatureConfig, b: Bounds) -> np.ndarray:
    """Each frame's largest possible log-mel value, (T,): min(L_max, ln(1 + N E / 2) + 0.05).

    Every band power is at most sum_{k>=1} P_k <= N E / 2 of that frame; 0.05 covers float16 on
    ln(1 + E) (which moves ln(1 + N E / 2) by < 0.013).
    """
    e = np.asarray(energy, dtype=np.float64)
    return np.minimum(b.logmel_max, np.log1p(config.frame_size * e / 2) + C0_ENERGY_TOL)


def logmel_residuals(
    mfcc: np.ndarray, b: Bounds, ceiling: np.ndarray | None = None, iterations: int = 40
) -> np.ndarray:
    """Upper bounds on min over L in [0, u_t]^M of ||D L - c||_2, per frame, by alternating projections.

    Parameters
    ----------
    mfcc : (T, n_mfcc) raw coefficients c.
    ceiling : (T,) per-frame upper bound u_t on log-mel values (:func:`logmel_ceiling`); L_max if None.
    iterations : int
        Rounds of (affine projection, clip); stops early once every frame is within tolerance.

    Returns
    -------
    (T,) residual norms in coefficient units of the best box point found (>= the true minimum).
    """
    c = np.asarray(mfcc, dtype=np.float64)
    pinv = b.affine_pinv
    # Projection on {L : D L = c} is L - D^+ (D L - c) = (I - D^+ D) L + D^+ c.
    null_proj_t = b.null_projection_t
    base = c @ pinv.T
    upper = np.full((len(c), 1), b.logmel_max) if ceiling is None else np.asarray(ceiling, dtype=np.float64)[:, None]
    logmel = np.clip(base, 0.0, upper)
    resid = np.linalg.norm(logmel @ b.dct.T - c, axis=1)
    tol = consistency_tolerance(c)
    # Most real frames are done here (their clipped minimum-norm spectrum is already in the box);
    # only the rest, typically a few per cent near the box's faces, are iterated.
    todo = np.flatnonzero(resid > tol)
    for _ in range(iterations):
        if len(todo) == 0:
            break
        logmel[todo] = np.clip(logmel[todo] @ null_proj_t + base[todo], 0.0, upper[todo])
        resid[todo] = np.linalg.norm(logmel[todo] @ b.dct.T - c[todo], axis=1)
        todo = todo[resid[todo] > tol[todo]]
    return resid


def consistency_tolerance(mfcc: np.ndarray) -> np.ndarray:
    """Largest residual a real frame can show, (T,): twice float16's error on c, plus float32 noise."""
    return CONSISTENCY_REL * np.linalg.norm(mfcc, axis=1) + CONSISTENCY_ABS


def exact_residual(coefs: np.ndarray, b: Bounds, ceiling: float | None = None) -> float:
    """min over L in [0, u]^M of ||D L - c||_2 for one frame's coefficients (n_mfcc,), by BVLS; u = L_max if None."""
    upper = b.logmel_max if ceiling is None else float(ceiling)
    res = lsq_linear(b.dct, np.asarray(coefs, dtype=np.float64), bounds=(0.0, max(upper, 1e-12)), method="bvls")
    return float(np.linalg.norm(b.dct @ res.x - coefs))


def consistency_fault(mfcc: np.ndarray, b: Bounds, ceiling: np.ndarray | None = None) -> tuple[str | None, float]:
    """First frame whose coefficients no log-mel vector in range produces; None if there is none.

    ``ceiling`` (T,): each frame's largest log-mel value (:func:`logmel_ceiling`); L_max if None.

    Returns (description or None, the largest residual / tolerance ratio seen by the fast pass).
    The fast pass only gives upper bounds, so a frame it leaves above tolerance is re-solved
    exactly before it is blamed (the fast pass never refuses on its own); at most
    ``MAX_EXACT_SOLVES`` frames, the worst first.
    """
    c = np.asarray(mfcc, dtype=np.float64)
    if len(c) == 0:
        return None, 0.0
    tol = consistency_tolerance(c)
    upper = np.full(len(c), b.logmel_max) if ceiling is None else np.asarray(ceiling, dtype=np.float64)
    ratio = logmel_residuals(c, b, upper) / tol
    for t in np.argsort(-ratio)[: min(int(np.sum(ratio > 1)), MAX_EXACT_SOLVES)]:  # worst first, bounded
        exact = exact_residual(c[t], b, upper[t])
        if exact > tol[t]:
            return (
                f"frame {int(t)}: no log-mel spectrum in [0, {upper[t]:.2f}]^{b.dct.shape[1]} has these "
                f"coefficients (residual {exact:.3g} > {tol[t]:.3g})",
                float(ratio.max()),
            )
    return None, float(ratio.max())


# --- the band-power budget: sum_j B_j <= N E / 2 -------------------------------------------------


@lru_cache(maxsize=8)
def _null_basis(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z (M, M - n_mfcc) orthonormal basis of D's null space, D^+ (M, n_mfcc), Z_j Z_j^T as (M, r*r))."""
    b = bounds(config)
    _, _, vt = np.linalg.svd(b.dct)
    z = vt[b.dct.shape[0] :].T
    outer = np.einsum("jk,jl->jkl", z, z).reshape(len(z), -1)
    return z, b.affine_pinv, outer


def budget_slack(mfcc: np.ndarray, energy: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, how the most economical log-mel vector compares with the frame's power budget.

    Real frames obey sum_j (e^{L_j} - 1) = sum_j B_j <= N E / 2, i.e. LSE(L) <= theta = ln(M + N E / 2).
    Over L = D^+ c + Z z >= -eta (eta covers float16 on c: its effect on L), minimise LSE(L) by damped
    Newton steps in z, vectorised over frames, each frame stopping once certified.

    Returns
    -------
    slack : (T,) theta + 0.05 + eta - LSE(L) of the best certified-feasible L found, nats; >= 0
        proves the frame possible; < 0 only says the fast pass found no witness (see :func:`budget_fault`).
    eta : (T,) the tolerance on L used, nats.
    """
    c = np.asarray(mfcc, dtype=np.float64)
    z_basis, pinv, outer = _null_basis(config)
    eta = 2 * FLOAT16_UNIT * (np.abs(c) @ np.abs(pinv).T).max(axis=1) + 0.01
    limit = np.log(config.mel_bands + config.frame_size * np.asarray(energy, dtype=np.float64) / 2)
    limit = limit + C0_ENERGY_TOL + eta
    base = c @ pinv.T
    z = np.zeros((len(c), z_basis.shape[1]))
    slack = np.full(len(c), -np.inf)
    todo = np.arange(len(c))
    for i in range(BUDGET_ITERATIONS + 1):  # evaluate the start and after every step
        logmel = base[todo] + z[todo] @ z_basis.T
        ok = logmel.min(axis=1) >= -eta[todo]
        value = _lse(logmel)
        slack[todo[ok]] = np.maximum(slack[todo[ok]], (limit[todo] - value)[ok])
        todo = todo[slack[todo] < 0]
        if len(todo) == 0 or i == BUDGET_ITERATIONS:
            break
        z[todo] -= _newton_step(base[todo] + z[todo] @ z_basis.T, eta[todo], z_basis, outer)
    return slack, eta


BUDGET_ITERATIONS = 25
_PENALTY = 1e4  # weight of (L + eta/2)^2 below -eta/2, so that penalised optima stay inside -eta


def _lse(logmel: np.ndarray) -> np.ndarray:
    """ln sum_j e^{L_j} per row, (T,)."""
    peak = logmel.max(axis=1)
    return peak + np.log(np.exp(logmel - peak[:, None]).sum(axis=1))


def _newton_step(logmel: np.ndarray, eta: np.ndarray, z_basis: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Damped Newton step in z for sum_j e^{L_j - max L} + penalty, (T, r); at most 1 nat on any L_j.

    The exponential is scaled by each frame's peak, which leaves the Newton direction unchanged."""
    w = np.exp(logmel - logmel.max(axis=1, keepdims=True))
    below = np.minimum(logmel + eta[:, None] / 2, 0.0)
    grad = (w + 2 * _PENALTY * below) @ z_basis
    curvature = w + 2 * _PENALTY * (below < 0)
    r = z_basis.shape[1]
    hess = (curvature @ outer).reshape(-1, r, r) + 1e-9 * np.eye(r)
    step = np.linalg.solve(hess, grad[..., None])[..., 0]
    largest = np.abs(step @ z_basis.T).max(axis=1, keepdims=True)
    return step / np.maximum(1.0, largest)


def exact_budget_slack(coefs: np.ndarray, energy: float, eta: float, config: FeatureConfig) -> float | None:
    """The same slack for one frame (n_mfcc,) by SLSQP; None if the solver did not converge (then
    the frame is not blamed)."""
    z_basis, pinv, _ = _null_basis(config)
    base = pinv @ np.asarray(coefs, dtype=np.float64)
    limit = np.log(config.mel_bands + config.frame_size * energy / 2) + C0_ENERGY_TOL + eta

    def value(z: np.ndarray) -> float:
        return float(_lse((base + z_basis @ z)[None])[0])

    def grad(z: np.ndarray) -> np.ndarray:
        logmel = base + z_basis @ z
        w = np.exp(logmel - logmel.max())
        return z_basis.T @ (w / w.sum())

    res = minimize(
        value, np.zeros(z_basis.shape[1]), jac=grad, method="SLSQP", options={"maxiter": 300, "ftol": 1e-10},
        constraints=[{"type": "ineq", "fun": lambda z: base + z_basis @ z + eta, "jac": lambda z: z_basis}],
    )  # fmt: skip
    if not res.success or (base + z_basis @ res.x).min() < -eta - 1e-6:
        return None
    return float(limit - res.fun)


def budget_fault(mfcc: np.ndarray, energy: np.ndarray, config: FeatureConfig) -> tuple[str | None, float]:
    """First frame whose coefficients need more band power than its energy provides; None if none.

    Returns (description or None, the smallest fast-pass slack, nats). Frames the fast pass leaves
    without a witness are solved exactly (at most ``MAX_EXACT_SOLVES``, the worst first), and only
    an exact negative slack refuses.
    """
    if len(mfcc) == 0:
        return None, 0.0
    slack, eta = budget_slack(mfcc, energy, config)
    # Worst first, and at most MAX_EXACT_SOLVES of them: a crafted segment of frames that are possible
    # but slow to prove so must not buy seconds of CPU; real takes need ~0.01 exact solves per 100 frames.
    for t in np.argsort(slack)[: min(int(np.sum(slack < 0)), MAX_EXACT_SOLVES)]:
        exact = exact_budget_slack(mfcc[t], float(energy[t]), float(eta[t]), config)
        if exact is not None and exact < 0:
            return (
                f"frame {int(t)}: the band powers these coefficients need exceed the frame's energy "
                f"(by {-exact:.2f} nats)",
                float(slack.min()),
            )
    return None, float(slack.min())


def energy_gap(mfcc: np.ndarray, energy: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """g = ln(1 + N E / (2 M)) - c0 / (2 M) per frame, (T,) natural-log units; >= 0 for real frames."""
    m = config.mel_bands
    return np.log1p(config.frame_size * np.asarray(energy, dtype=np.float64) / (2 * m)) - mfcc[:, 0] / (2 * m)


def linear_frames(mfcc: np.ndarray) -> np.ndarray:
    """Frames that continue an exact ramp (or a constant) of all coefficients, (T,) bool.

    Frame t is flagged when every c_k[t+1] - 2 c_k[t] + c_k[t-1] vanishes up to float16 rounding
    (4 units of the largest of the three values, plus 1e-3): a straight line in 13 dimensions over
    three 10 ms frames, which sound does not make. The first and last frames are never flagged.
    """
    c = np.asarray(mfcc, dtype=np.float64)
    flags = np.zeros(len(c), dtype=bool)
    if len(c) < 3:
        return flags
    second = np.abs(c[2:] - 2 * c[1:-1] + c[:-2])
    scale = np.maximum(np.maximum(np.abs(c[2:]), np.abs(c[1:-1])), np.abs(c[:-2]))
    flags[1:-1] = np.all(second <= 4 * FLOAT16_UNIT * scale + 1e-3, axis=1)
    return flags


def von_neumann(x: np.ndarray, pairs: np.ndarray | None = None) -> float:
    """Mean squared step over twice the variance, summed over columns: ~1 for values independent in time.

    x (T, D) or (T,); pairs (T - 1,) bool, which steps t-1 -> t count (all if None). 0 if undefined,
    inf for a constant x with steps (it cannot be judged smooth).
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    pairs = np.ones(max(len(x) - 1, 0), dtype=bool) if pairs is None else pairs
    if len(x) < 3 or not pairs.any():
        return 0.0
    step = np.sum(np.diff(x, axis=0)[pairs] ** 2) / pairs.sum()
    spread = 2 * np.sum((x - x.mean(axis=0)) ** 2) / len(x)
    return float(step / spread) if spread > 0 else float("inf")


def smoothness(mfcc: np.ndarray, mask: np.ndarray) -> float:
    """Von Neumann ratio of c1.. over the speech frames ``mask`` (T,) bool (``Thresholds.smoothness_max``).

    mfcc (T, n_mfcc). Only steps between adjacent speech frames count; the spread is the speech frames'.
    """
    c = np.asarray(mfcc, dtype=np.float64)[:, 1:]
    pairs = mask[1:] & mask[:-1]
    if mask.sum() < 3 or not pairs.any():
        return 0.0
    speech = c[mask]
    step = np.sum(np.diff(c, axis=0)[pairs] ** 2) / pairs.sum()
    spread = 2 * np.sum((speech - speech.mean(axis=0)) ** 2) / len(speech)
    return float(step / spread) if spread > 0 else float("inf")


def roughness(mfcc: np.ndarray, mask: np.ndarray) -> float:
    """How rough c1.. are in time over the speech frames ``mask`` (T,) bool (``Thresholds.roughness_min``):
    per coefficient the RMS second difference over sqrt(6) (for white noise of variance s^2 that is s) over
    the coefficient's spread, the median over coefficients. Real noise makes frames rougher; a moving
    average makes them smoother than any microphone does. +inf (nothing to judge) with fewer than
    ``ROUGHNESS_MIN_RUNS`` runs of three adjacent speech frames.

    mfcc (T, n_mfcc).
    """
    c = np.asarray(mfcc, dtype=np.float64)[:, 1:]
    triples = mask[2:] & mask[1:-1] & mask[:-2] if len(mask) >= 3 else np.zeros(0, dtype=bool)
    if triples.sum() < ROUGHNESS_MIN_RUNS:
        return float("inf")
    rough = np.sqrt(np.mean(np.diff(c, 2, axis=0)[triples] ** 2, axis=0) / 6.0)
    spread = c[mask].std(axis=0)
    ok = spread > 0
    return float(np.median(rough[ok] / spread[ok])) if ok.any() else float("inf")


def distinct_rows(x: np.ndarray) -> int:
    """How many distinct rows x (T, D) has, as ``len(np.unique(x, axis=0))`` counts them (-0.0 equals 0.0;
    x is finite or +-inf), by comparing each row's bytes: several times faster than ``np.unique``'s axis
    mode, which sorts structured records."""
    if len(x) == 0:
        return 0
    rows = np.ascontiguousarray(x + np.zeros(1, dtype=x.dtype))  # -0.0 + 0.0 = 0.0: equal values, equal bytes
    return len(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()))


def degenerate_fault(
    mfcc: np.ndarray, energy: np.ndarray, mask: np.ndarray, th: Thresholds
) -> tuple[str | None, dict[str, float]]:
    """Speech frames no microphone makes: none at all, repeated, exact ramps, or unrelated in time.

    mfcc (T, n_mfcc); energy (T,); mask (T,) bool, the speech frames.
    """
    n = int(mask.sum())
    if n == 0:
        return "no frame has any energy (digital silence)", {}
    # float16 rounding first, so that frames differing only by wire rounding count as one. Energies
    # are not compared: the wire's float16 ln(1 + E) has steps of 1.5% at speech levels, and steady
    # noise frames really do collide at that resolution.
    info = {
        "distinct_fraction": distinct_rows(mfcc[mask, 1:].astype(np.float16)) / n,
        "linear_fraction": float(linear_frames(mfcc)[mask].mean()),
        "smoothness": smoothness(mfcc, mask),
        # All frames: short takes have few adjacent speech frames, and the level contour is smooth
        # across speech and pauses alike (the frames overlap by 69%).
        "energy_smoothness": von_neumann(np.log1p(energy)),
        "roughness": roughness(mfcc, mask),
    }
    if info["distinct_fraction"] < th.min_distinct_fraction:
        return f"only {info['distinct_fraction']:.0%} of the {n} speech frames have distinct c1-c12", info
    if info["linear_fraction"] > th.linear_fraction:
        return f"{info['linear_fraction']:.0%} of the speech frames continue an exact ramp or constant", info
    if info["smoothness"] > th.smoothness_max:
        return f"frames unrelated in time (smoothness ratio {info['smoothness']:.2f} > {th.smoothness_max})", info
    if info["energy_smoothness"] > th.energy_smoothness_max:
        ratio = info["energy_smoothness"]
        return f"energies unrelated in time (smoothness ratio {ratio:.2f} > {th.energy_smoothness_max})", info
    if info["roughness"] < th.roughness_min:
        return f"frames smoother in time than speech (roughness {info['roughness']:.3f} < {th.roughness_min})", info
    return None, info


def _physics(mfcc: np.ndarray, energy: np.ndarray, config: FeatureConfig) -> tuple[Verdict | None, dict[str, Any]]:
    """Tests 1 and 2, which no real frame can fail: (a refusing Verdict or None, their measurements)."""
    b = bounds(config)
    fault = range_fault(mfcc, energy, b)
    if fault:
        return Verdict(False, f"range: {fault}", "range"), {}
    gap = energy_gap(mfcc, energy, config)
    details: dict[str, Any] = {"energy_gap_min": float(gap.min()) if len(gap) else 0.0}
    low = np.flatnonzero(gap < -C0_ENERGY_TOL)
    if len(low):
        t = int(low[0])
        reason = f"consistency: frame {t}: energy {energy[t]:.4g} is too small for c0 = {mfcc[t, 0]:.4g}"
        return Verdict(False, reason, "consistency", details), details
    fault, details["residual_ratio_max"] = consistency_fault(mfcc, b, logmel_ceiling(energy, config, b))
    if not fault:
        fault, details["budget_slack_min"] = budget_fault(mfcc, energy, config)
    if fault:
        return Verdict(False, f"consistency: {fault}", "consistency", details), details
    return None, details


def check_frames(
    mfcc: np.ndarray,
    energy: np.ndarray,
    config: FeatureConfig,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    post: PostConfig = DEFAULT_POST,
) -> Verdict:
    """Could these frames come from real int16-scale audio through Meyda at ``config``? The physical and
    degenerate-sequence tests; ``models.speech.check`` adds what the UBM says of them.

    Parameters
    ----------
    mfcc : (T, n_mfcc) array
        Raw Meyda MFCCs of one take or one answer segment, as received (after the wire checks:
        finite values, non-negative energies).
    energy : (T,) array
        Raw Meyda energies (input scale squared).
    config : FeatureConfig
        The configuration the frames claim (the service's).
    thresholds, post
        Measured limits, and the post-processing that defines speech frames.

    Returns
    -------
    Verdict
        ``ok`` False with ``reason`` "<test>: ..." for the first failing test.
    """
    mfcc = np.asarray(mfcc, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    refused, details = _physics(mfcc, energy, config)
    if refused:
        return refused
    mask = speech_mask(energy, post.dynamic_range_db)
    details["speech_frames"] = int(mask.sum())
    fault, info = degenerate_fault(mfcc, energy, mask, thresholds)
    details.update(info)
    if fault:
        return Verdict(False, f"degenerate: {fault}", "degenerate", details)
    return Verdict(True, None, None, details)
