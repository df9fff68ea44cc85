"""The gate every take and answer segment passes before it is scored or stored: could these frames have
come from real audio through Meyda at the service's configuration, and do they look like speech to the
UBM (``features.plausibility``, ``models.speech``)? Crafted features are refused here, never scored."""

from __future__ import annotations

import logging

import numpy as np

from ..models import speech
from .runtime import VoiceRuntime

log = logging.getLogger("speakerverify.plausibility")

# What the person is told: the test that failed stays in the server log, so an attacker crafting frames
# learns nothing about which bound to aim for.
NOT_SPEECH = "These frames could not have come from speech recorded by a microphone; please record again."


def implausible(
    rt: VoiceRuntime,
    mfcc: np.ndarray,
    energy: np.ndarray,
    feats: np.ndarray | None = None,
    ll: np.ndarray | None = None,
) -> str | None:
    """None if mfcc (T, n_mfcc), energy (T,) are physically possible speech frames; else the failed test.
    ``feats``: their post-processed frames (T', D) and ``ll`` those frames' UBM log-likelihoods (T',), if
    the caller has them (an answer computes both once, for this test and for scoring)."""
    verdict = speech.check(mfcc, energy, rt.config, rt.ubm, post=rt.post, feats=feats, ll=ll)
    if verdict.ok:
        return None
    log.info("refused implausible frames: %s", verdict.reason)
    return verdict.reason or verdict.test or "implausible"
