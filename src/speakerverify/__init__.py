"""speakerverify: privacy-preserving text-prompted speaker verification from browser features."""

__version__ = "0.1.0"
