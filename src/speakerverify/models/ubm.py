"""The universal background model: training from many speakers, and the shipped default."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from .gmm import DiagGMM, train_gmm
from .io import load_gmm

DEFAULT_UBM_FILE = "ubm-default.npz"


@dataclass(frozen=True)
class UBM:
    """A background mixture with the provenance needed to refuse mismatched features."""

    gmm: DiagGMM
    meta: dict[str, Any]

    @property
    def ubm_id(self) -> str:
        return str(self.meta["ubm_id"])

    @property
    def config_id(self) -> str:
        return str(self.meta["config_id"])

    @property
    def post_id(self) -> str:
        return str(self.meta["post_id"])


def train_ubm(
    utterances: Sequence[np.ndarray],
    n_components: int = 256,
    seed: int = 0,
    on_iteration: Callable[[int, int, float], None] | None = None,
) -> DiagGMM:
    """EM-train a diagonal GMM on the pooled frames of many utterances (each (T_i, D))."""
    frames = np.concatenate([u for u in utterances if len(u)], axis=0)
    return train_gmm(frames, n_components, seed=seed, on_iteration=on_iteration)


def load_default_ubm() -> UBM:
    """The UBM shipped in the package (trained on speechocean762; see data/UBM.md)."""
    with resources.files("speakerverify.data").joinpath(DEFAULT_UBM_FILE).open("rb") as fh:
        gmm, meta = load_gmm(fh)
    return UBM(gmm, meta)
