"""The versioned feature configuration shared by the browser and the server.

One frozen object says how raw audio becomes frames; anything that changes a
number here must change ``config_id`` so stored features never mix silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureConfig:
    """How samples become Meyda MFCC + energy frames.

    Attributes
    ----------
    config_id : str
        Stable identifier stored with every utterance.
    sample_rate : int
        Hz. The browser's AudioContext runs at this rate.
    frame_size : int
        Samples per frame (Meyda ``bufferSize``); a power of two.
    hop_size : int
        Samples between frame starts. Frame ``i`` covers
        ``[i * hop_size, i * hop_size + frame_size)``; full frames only.
    mel_bands : int
        Meyda ``melBands``.
    n_mfcc : int
        Meyda ``numberOfMFCCCoefficients``.
    window : str
        Meyda ``windowingFunction``.
    input_scale : float
        Samples in [-1, 1) are multiplied by this before ``Meyda.extract``.
        Meyda takes ln(1 + E) of the unscaled spectrum, so at float scale it is
        nearly linear in E and gain-dependent; int16 full scale makes it ~ln(E).
    """

    config_id: str = "mfcc-8k-v1"
    sample_rate: int = 8000
    frame_size: int = 256
    hop_size: int = 80
    mel_bands: int = 23
    n_mfcc: int = 13
    window: str = "hamming"
    input_scale: float = 32768.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_CONFIG = FeatureConfig()

# What the 2020 demo computed: Meyda at Web Audio's float scale. Kept only so
# the SeedBaseline can be evaluated on the features it was designed for.
LEGACY_SCALE_CONFIG = FeatureConfig(config_id="mfcc-8k-float-legacy", input_scale=1.0)

CONFIGS = {c.config_id: c for c in (DEFAULT_CONFIG, LEGACY_SCALE_CONFIG)}


def get_config(config_id: str) -> FeatureConfig:
    """Return the registered config with this id; ``KeyError`` names the known ids."""
    try:
        return CONFIGS[config_id]
    except KeyError:
        raise KeyError(f"unknown feature config {config_id!r}; known: {sorted(CONFIGS)}") from None
