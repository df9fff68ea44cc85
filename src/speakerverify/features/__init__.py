"""Signal features: the versioned config, Meyda-exact extraction, audio I/O, post-processing."""

from .audio import AudioError, read_audio
from .config import DEFAULT_CONFIG, FeatureConfig, get_config
from .meyda import extract
from .postprocess import DEFAULT_POST, PostConfig, postprocess

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_POST",
    "AudioError",
    "FeatureConfig",
    "PostConfig",
    "extract",
    "get_config",
    "postprocess",
    "read_audio",
]
