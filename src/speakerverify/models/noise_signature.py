"""How much of the noisy-copy construction an answer's noise shows: its "noise signature".

The quality-aware thresholds come from the cohort's takes degraded by the noisy-copy construction
(``noisy_copies.degraded_levels``). Real noise that looks like that construction (stationary, broadband)
raises impostor scores against copy-augmented models as the degraded cohort does; noise that does not
(babble, other speech) raises them far less, so the degraded level's threshold is too high for it
(BENCHMARKS.md "Noise: the degraded cohort's bias"). The signature measures that per answer: the mean frame
LLR of its speech frames under a *noise model* (the UBM MAP-adapted to background speech plus the recipe's
noisy copies of it, shipped as ``data/noise-model.npz``, estimated from speechocean762) against the UBM.
Clean speech scores about as high under both; speech in copy-like noise scores higher under the noise
model. One model on the answer's existing UBM alignment: about the cost of one more digit model.

``signature_fraction`` places an answer's signature between the cohort's clean trials' (0) and its
degraded trials' at the answer's measured SNR (1); ``voice.decision.Calibration`` scales how far the noisy
level's threshold rises above the clean point by that fraction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from .frame_bounds import bound_frame_llr
from .gmm import DiagGMM
from .io import load_arrays
from .scoring import Alignment, ModelTerms, chosen_frame_llr, model_terms
from .speaker import Stats, map_means

NOISE_MODEL_FILE = "noise-model.npz"
# Scores are taken against a background of UBM and noise model: each unit of an answer's signature costs its
# score this much (``noise_normalised``). Noisy copies in the speaker models make any voice that shows the
# construction (a flattened, scaled or smoothed one: SECURITY.md "Other spectral edits") fit every user;
# the noise model, built the same way from background speakers, fits it too, so part of that fit is
# taken back. Chosen on development takes (BENCHMARKS.md "Noise: normalised by the noise model"): 0.4
# lowered every edit's acceptance and no condition's FRR; 0.7 and 1.0 closed more edits but raised white
# 10 dB FRR 14 -> 25 and 37%.
NOISE_NORMALISATION = 0.4


def ubm_fingerprint(gmm: DiagGMM) -> str:
    """A short hash of a UBM's parameters: a noise model serves only the UBM it was adapted from."""
    h = hashlib.sha256()
    for a in (gmm.weights, gmm.means, gmm.variances):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()[:16]


def noise_model_means(ubm: DiagGMM, stats: Sequence[Stats], relevance: float) -> np.ndarray:
    """The noise model's means (C, D): the UBM MAP-adapted to the summed statistics of many takes, each
    with its noisy copies (``noisy_copies.take_stats``)."""
    total = Stats(np.zeros(ubm.n_components), np.zeros((ubm.n_components, ubm.dim)))
    for s in stats:
        total = total + s
    return map_means(ubm.means, total, relevance)


_LOADED: dict[int, tuple[DiagGMM, ModelTerms | None]] = {}


def noise_model_terms(ubm: DiagGMM) -> ModelTerms | None:
    """The shipped noise model's scoring terms (one model) for ``ubm``; None when it was adapted from another
    UBM (an operator's own) or is missing: then answers carry no signature and the levels serve unscaled."""
    cached = _LOADED.get(id(ubm))
    if cached is not None and cached[0] is ubm:
        return cached[1]
    terms = None
    try:
        with resources.files("speakerverify.data").joinpath(NOISE_MODEL_FILE).open("rb") as fh:
            arrays, meta = load_arrays(fh)
        if meta.get("ubm_fingerprint") == ubm_fingerprint(ubm):
            terms = model_terms(ubm, arrays["means"][None])
    except FileNotFoundError:
        pass
    _LOADED[id(ubm)] = (ubm, terms)
    return terms


def noise_model_meta() -> dict[str, Any]:
    with resources.files("speakerverify.data").joinpath(NOISE_MODEL_FILE).open("rb") as fh:
        return load_arrays(fh)[1]


def frame_signature(terms: ModelTerms, feats: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Bounded per-frame LLR (T,) of frames (T, D) under the noise model against the UBM (``alignment``)."""
    return bound_frame_llr(chosen_frame_llr(terms, feats, alignment, np.zeros(len(feats), dtype=int)))


def noise_normalised(llr: np.ndarray | float, signature: np.ndarray | float) -> np.ndarray:
    """LLR (per take or answer, mean or summed over frames) less ``NOISE_NORMALISATION`` times the noise
    signature over the same frames, same shape (float64). The service's answers and the cohort's trials both
    pass through it, so the thresholds and the answers share one scale."""
    return np.asarray(llr, dtype=np.float64) - NOISE_NORMALISATION * np.asarray(signature, dtype=np.float64)


def answer_signature(terms: ModelTerms, feats: np.ndarray, alignment: Alignment) -> float | None:
    """An answer's signature: the mean of ``frame_signature`` over its scored frames (T, D); None if none."""
    if len(feats) == 0:
        return None
    return float(frame_signature(terms, feats, alignment).mean())


def reference_signature(
    snr_db: float, points: Sequence[tuple[float, float]], clean_snr_db: float, clean_ref: float
) -> float:
    """The degraded cohort's signature at a measured ``snr_db``: ``points`` (level SNR dB, level signature)
    and the clean trials' (``clean_snr_db``, ``clean_ref``), interpolated by SNR like the thresholds."""
    table = sorted([(clean_snr_db, clean_ref), *points])
    return float(np.interp(snr_db, [s for s, _ in table], [r for _, r in table]))


def signature_fraction(
    signature: float, snr_db: float, points: Sequence[tuple[float, float]], clean_snr_db: float, clean_ref: float
) -> float:
    """Where ``signature`` lies between the clean cohort's (``clean_ref``, 0) and the degraded cohort's at
    the answer's measured ``snr_db`` (1; ``reference_signature``). Clipped to [0, 1]; 1 (the level unscaled)
    where the two references do not differ."""
    return fraction_between(signature, clean_ref, reference_signature(snr_db, points, clean_snr_db, clean_ref))


def fraction_between(signature: float, clean_ref: float, ref: float) -> float:
    """``signature_fraction`` with the reference at the answer's SNR already interpolated (``ref``)."""
    if ref - clean_ref <= 1e-6:
        return 1.0
    return float(np.clip((signature - clean_ref) / (ref - clean_ref), 0.0, 1.0))
