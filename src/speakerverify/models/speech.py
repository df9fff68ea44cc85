"""What speech looks like to the UBM: the last test every take and answer segment passes (after the
physical ones of ``features.plausibility``). Post-processed frames are scored by the whole mixture; too
many below a floor learnt from real speech and silence (speechocean762), or a coefficient spread far
beyond speech's, and the frames are refused."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..features import FeatureConfig
from ..features.plausibility import DEFAULT_THRESHOLDS, Thresholds, Verdict, check_frames
from ..features.postprocess import DEFAULT_POST, PostConfig, postprocess
from .gmm import frame_log_likelihood
from .ubm import UBM, load_default_ubm


def ubm_fault(
    mfcc: np.ndarray,
    energy: np.ndarray,
    ubm: UBM,
    th: Thresholds,
    post: PostConfig,
    feats: np.ndarray | None = None,
    ll: np.ndarray | None = None,
) -> tuple[str | None, dict[str, float]]:
    """Speech frames the UBM finds unlike speech: too many below its floor, or a coefficient far too spread.

    ``ubm`` is a :class:`speakerverify.models.ubm.UBM` (duck-typed: ``.gmm``). Frames are
    post-processed as for scoring (or ``feats``, (T', D), when the caller already did: the scoring's own
    features, so an answer is post-processed once), then scored by the full mixture (nats per frame; or
    ``ll`` (T',), those frames' UBM log-likelihoods from the scoring's own alignment).
    """
    feats = postprocess(mfcc, energy, post) if feats is None else feats
    if len(feats) == 0:
        return None, {"below_floor": 0.0, "above_ceiling": 0.0}
    ll = frame_log_likelihood(ubm.gmm, feats) if ll is None else ll
    below, above = float(np.mean(ll < th.ubm_floor)), float(np.mean(ll > th.ubm_ceiling))
    n_static = post.n_static
    spread = feats[:, :n_static].std(axis=0) / global_std(ubm.gmm)[:n_static]
    info = {"below_floor": below, "above_ceiling": above, "median_ll": float(np.median(ll))}
    info["spread_max"] = float(spread.max())
    if info["spread_max"] > th.spread_max:
        k = int(np.argmax(spread)) + int(post.drop_c0)
        return f"c{k} varies {info['spread_max']:.1f}x as much as speech does (limit {th.spread_max})", info
    if below > th.floor_fraction:
        return f"{below:.0%} of the speech frames are below the UBM floor ({th.ubm_floor:.1f} nats)", info
    return None, info


_GLOBAL_STD: list[tuple[Any, np.ndarray]] = []  # (the mixture, its result): one per process, checked by identity


def global_std(gmm: Any) -> np.ndarray:
    """Standard deviation of each dimension under the whole mixture, (D,):
    var = sum_c w_c (var_c + mu_c^2) - (sum_c w_c mu_c)^2. Kept for the last mixture asked about (the
    service's UBM: every take and answer segment asks)."""
    cached = _GLOBAL_STD[-1] if _GLOBAL_STD else None
    if cached is not None and cached[0] is gmm:
        return cached[1]
    std = _global_std(gmm)
    std.flags.writeable = False
    _GLOBAL_STD[:] = [(gmm, std)]
    return std


def _global_std(gmm: Any) -> np.ndarray:
    w = gmm.weights[:, None]
    mean = np.sum(w * gmm.means, axis=0)
    return np.sqrt(np.sum(w * (gmm.variances + gmm.means**2), axis=0) - mean**2)


@lru_cache(maxsize=1)
def _shipped_ubm() -> UBM:
    return load_default_ubm()


def check(
    mfcc: np.ndarray,
    energy: np.ndarray,
    config: FeatureConfig,
    ubm: Any = None,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    post: PostConfig = DEFAULT_POST,
    feats: np.ndarray | None = None,
    ll: np.ndarray | None = None,
) -> Verdict:
    """``features.plausibility.check_frames``, then the UBM test. mfcc (T, n_mfcc), energy (T,) raw frames.

    ``ubm``: the service's UBM (None: the shipped one). A UBM other than ``thresholds.ubm_id`` skips the
    UBM test (noted in ``details["ubm"]``): its floor was measured for that UBM only. ``feats``: the
    frames already post-processed with ``post`` (``postprocess`` computes in float64 whatever it is given,
    so they are the same values), to skip doing it again; ``ll`` their UBM log-likelihoods (T',).
    """
    verdict = check_frames(mfcc, energy, config, thresholds=thresholds, post=post)
    if not verdict.ok:
        return verdict
    details = dict(verdict.details)
    ubm = _shipped_ubm() if ubm is None else ubm
    if ubm.ubm_id != thresholds.ubm_id:
        details["ubm"] = f"skipped: thresholds were measured for {thresholds.ubm_id}"
        return Verdict(True, None, None, details)
    fault, info = ubm_fault(
        np.asarray(mfcc, np.float64), np.asarray(energy, np.float64), ubm, thresholds, post, feats, ll
    )
    details.update(info)
    if fault:
        return Verdict(False, f"ubm: {fault}", "ubm", details)
    return Verdict(True, None, None, details)
