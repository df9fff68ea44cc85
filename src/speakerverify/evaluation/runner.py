"""Run the FSDD protocol for several systems on the same trials and collect the metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..features import DEFAULT_CONFIG, DEFAULT_POST, PostConfig, extract, postprocess, read_audio
from ..features.config import LEGACY_SCALE_CONFIG
from ..models.baseline import SeedBaseline, baseline_frames
from ..models.scoring import frame_llr
from ..models.speaker import (
    DEFAULT_ADAPTATION,
    AdaptationConfig,
    SpeakerModel,
    digit_means,
    speaker_means,
    utterance_stats,
)
from ..models.ubm import UBM
from . import metrics
from .corpus import Recording, read_fsdd
from .protocol import ENROL_TAKES, TEST_TAKES, add_white_noise, make_trials

CONDITIONS = {"clean": None, "noisy10": 10.0}
SYSTEMS = ("seed-baseline", "seed-baseline-float", "gmm-ubm", "gmm-ubm-digit")
# Which raw features each baseline sees: the demo's algorithm on our FeatureConfig,
# and on the float-scale Meyda features the demo actually computed.
_BASELINE_FEATURES = {"seed-baseline": "default", "seed-baseline-float": "legacy"}

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


def _no_progress(it: Iterable[Any], desc: str, total: int) -> Iterable[Any]:
    return it


@dataclass
class UtteranceScores:
    """Per test utterance and model speaker: score sum and frame count, per system."""

    sums: dict[str, np.ndarray] = field(default_factory=dict)  # system -> (U, S)
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # system -> (U, S)


@dataclass
class EvalResult:
    records: list[dict[str, Any]]
    per_speaker: list[dict[str, Any]]
    scores: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]]  # (system, condition, k) -> (target, impostor)


@lru_cache(maxsize=8192)
def _features(rec: Recording, snr_db: float | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Raw frames of one recording, cached so repeated evaluations (tuning) read each file once."""
    x = read_audio(rec.path)
    if snr_db is not None:
        x = add_white_noise(x, snr_db, rec.path.name)
    return {"default": extract(x, DEFAULT_CONFIG), "legacy": extract(x, LEGACY_SCALE_CONFIG)}


def evaluate(
    corpus: str,
    ubm: UBM,
    ks: Sequence[int] = (1, 3, 5),
    trials_per_speaker: int = 300,
    seed: int = 0,
    conditions: Sequence[str] = ("clean", "noisy10"),
    systems: Sequence[str] = SYSTEMS,
    post: PostConfig = DEFAULT_POST,
    adaptation: AdaptationConfig = DEFAULT_ADAPTATION,
    progress: Progress = _no_progress,
    test_takes: tuple[int, ...] = TEST_TAKES,
) -> EvalResult:
    """Enrol every speaker, score every test utterance against every model, pool into trials."""
    if ubm.post_id != post.post_id or ubm.config_id != DEFAULT_CONFIG.config_id:
        raise ValueError(f"UBM {ubm.ubm_id} was trained for {ubm.config_id}/{ubm.post_id}, not {post.post_id}")
    recs = read_fsdd(corpus)
    speakers = sorted({r.speaker for r in recs})
    by_key = {(r.speaker, r.digit, r.take): r for r in recs}
    enrol = [r for r in recs if r.take in ENROL_TAKES]
    test = [r for r in recs if r.take in test_takes]
    missing = [
        (s, d, t) for s in speakers for d in range(10) for t in ENROL_TAKES + test_takes if (s, d, t) not in by_key
    ]
    if missing:
        raise ValueError(f"{corpus}: protocol needs takes 0-5 and 25-49 of every digit; missing e.g. {missing[:3]}")

    gmm = ubm.gmm
    models: dict[str, SpeakerModel] = {s: SpeakerModel.empty(gmm.n_components, gmm.dim) for s in speakers}
    baseline_systems = [sy for sy in systems if sy in _BASELINE_FEATURES]
    base_utts: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {
        (sy, s): [] for sy in baseline_systems for s in speakers
    }
    for rec in progress(sorted(enrol, key=lambda r: (r.speaker, r.take, r.digit)), "enrol", len(enrol)):
        f = _features(rec, None)
        feats = postprocess(*f["default"], post)
        models[rec.speaker] = models[rec.speaker].add(rec.digit, utterance_stats(gmm, feats))
        for sy in baseline_systems:
            base_utts[(sy, rec.speaker)].append((rec.digit, baseline_frames(*f[_BASELINE_FEATURES[sy]])))
    spk_means = {s: speaker_means(gmm, m, adaptation) for s, m in models.items()}
    dig_means = {s: digit_means(gmm, m, adaptation) for s, m in models.items()}
    baselines = {key: SeedBaseline.fit(u, seed=seed) for key, u in base_utts.items()}

    index = {(r.speaker, r.digit, r.take): i for i, r in enumerate(test)}
    per_cond: dict[str, UtteranceScores] = {}
    for cond in conditions:
        us = UtteranceScores(
            {sy: np.zeros((len(test), len(speakers))) for sy in systems},
            {sy: np.zeros((len(test), len(speakers))) for sy in systems},
        )
        for u, rec in enumerate(progress(test, f"score {cond}", len(test))):
            f = _features(rec, CONDITIONS[cond])
            feats = postprocess(*f["default"], post)
            base_feats = {sy: baseline_frames(*f[_BASELINE_FEATURES[sy]]) for sy in baseline_systems}
            for j, spk in enumerate(speakers):
                if "gmm-ubm" in systems:
                    llr = frame_llr(gmm, spk_means[spk], feats, adaptation.top_c)
                    us.sums["gmm-ubm"][u, j], us.counts["gmm-ubm"][u, j] = llr.sum(), len(llr)
                if "gmm-ubm-digit" in systems:
                    llr = frame_llr(gmm, dig_means[spk][rec.digit], feats, adaptation.top_c)
                    us.sums["gmm-ubm-digit"][u, j], us.counts["gmm-ubm-digit"][u, j] = llr.sum(), len(llr)
                for sy in baseline_systems:
                    us.sums[sy][u, j], us.counts[sy][u, j] = baselines[(sy, spk)].matched(base_feats[sy])
        per_cond[cond] = us

    records: list[dict[str, Any]] = []
    per_speaker: list[dict[str, Any]] = []
    scores: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}
    for k in ks:
        trials = make_trials(speakers, k, trials_per_speaker, seed, test_takes)
        rows = [[index[(t.speaker, d, take)] for d, take in t.segments] for t in trials]
        owner = np.array([speakers.index(t.speaker) for t in trials])
        for cond, us in per_cond.items():
            for sy in systems:
                total = np.stack([us.sums[sy][r].sum(axis=0) for r in rows])  # (trials, S)
                count = np.stack([us.counts[sy][r].sum(axis=0) for r in rows])
                score = np.where(count > 0, total / np.maximum(count, 1), -np.inf)
                is_target = owner[:, None] == np.arange(len(speakers))[None, :]
                target, impostor = score[is_target], score[~is_target]
                scores[(sy, cond, k)] = (target, impostor)
                records.append(_record(sy, cond, k, target, impostor))
                for j, spk in enumerate(speakers):
                    col = score[:, j]
                    per_speaker.append(
                        {
                            "system": sy,
                            "condition": cond,
                            "k": k,
                            "speaker": spk,
                            "eer": 100 * metrics.eer(col[owner == j], col[owner != j]),
                        }
                    )
    return EvalResult(records, per_speaker, scores)


def _record(system: str, condition: str, k: int, target: np.ndarray, impostor: np.ndarray) -> dict[str, Any]:
    return {
        "system": system,
        "condition": condition,
        "k": k,
        "eer": round(100 * metrics.eer(target, impostor), 3),
        "min_dcf": round(metrics.min_dcf(target, impostor, p_target=0.01), 4),
        "frr_at_far1": round(100 * metrics.frr_at_far(target, impostor, 0.01), 3),
        "n_target": len(target),
        "n_impostor": len(impostor),
    }
