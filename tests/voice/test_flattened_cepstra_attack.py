"""The flattened-cepstra attack on the FSDD deployment the benchmarks measure (``evaluation.deployment``).

An impostor pulls the raw c1-c12 of their own takes towards each take's mean and may raise every frame's
energy so the answer measures at a claimed SNR (SECURITY.md "Flattened cepstra"). Flattened answers fit
every user's noisy copies; before the excess-signature cost they were accepted at up to 5.8% of impostor
answers (x0.4 claiming 7 dB, development takes). No plausibility gate here: the decision must hold alone.
Two other spectral edits: c1-c12 scaled towards zero (26 of 1,200 before the scores were normalised by the
noise model, 11 after) and smoothed in time, then flattened (33, then 26, then 10 once the answer's SNR was
measured on its mel bands too, so the claimed noise is no longer believed; the plausibility gate also refuses
such takes as smoother in time than speech, ``features.plausibility.roughness``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from speakerverify.config import VoicePolicy
from speakerverify.evaluation import deployment
from speakerverify.evaluation.crafted import claimed_noise, flattened, jittered, scaled, smoothed
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio
from speakerverify.models import speech
from speakerverify.models.ubm import load_default_ubm

pytestmark = pytest.mark.slow

IMPOSTOR_ANSWERS = 200  # per user: 1,200 per attack
PROMISED_FAR = VoicePolicy().target_far


@pytest.fixture(scope="module")
def built(fsdd: Path) -> tuple:
    policy = VoicePolicy()
    gmm = load_default_ubm().gmm
    recs, speakers, users, rows = deployment.fsdd_deployment(gmm, fsdd, policy)
    takes = deployment.ANSWER_TAKES["dev"]
    clean = {
        (r.speaker, r.digit, r.take): tuple(a.astype(np.float32) for a in extract(read_audio(r.path)))
        for r in recs
        if r.take in takes
    }
    trials = deployment.answer_trials(speakers, takes, 0, IMPOSTOR_ANSWERS, 0)
    return gmm, policy, users, deployment.calibrations(rows, policy), clean, trials


def _accepted(
    built: tuple, factor: float, claim: float | None, edit: Callable[[np.ndarray, float], np.ndarray] = flattened
) -> tuple[int, int]:
    gmm, policy, users, calibrations, clean, trials = built
    sent = {k: (edit(m, factor), e if claim is None else claimed_noise(e, claim)) for k, (m, e) in clean.items()}
    scored = deployment.score_takes(gmm, users, sent)
    accepted = sum(
        deployment.decided(scored, calibrations[user], user, keys, policy)[2].accept for user, _, keys in trials
    )
    return accepted, len(trials)


@pytest.mark.parametrize(
    ("factor", "claim"),
    [(0.5, None), (0.5, 10.0), (0.4, 7.0), (0.3, 5.5)],
    ids=["x0.5", "x0.5-claims-10dB", "x0.4-claims-7dB", "x0.3-claims-5.5dB"],
)
def test_strongly_flattened_impostors_are_accepted_at_most_at_the_promised_far(
    built: tuple, factor: float, claim: float | None
) -> None:
    accepted, tried = _accepted(built, factor, claim)
    assert accepted <= PROMISED_FAR * tried, f"{accepted} of {tried} flattened impostor answers accepted"


def test_mildly_flattened_impostors_claiming_much_noise_are_accepted_at_most_at_the_promised_far(
    built: tuple,
) -> None:
    # Open (13 of 1,200) until the speaker models' speech-shaped copy gave way to babble copies: 10 of 1,200,
    # as many as clean impostors' answers (SECURITY.md "Flattened cepstra").
    accepted, tried = _accepted(built, 0.6, 5.5)
    assert accepted <= PROMISED_FAR * tried, f"{accepted} of {tried} flattened impostor answers accepted"


def _smoothed_then_flattened(mfcc: np.ndarray, factor: float) -> np.ndarray:
    return flattened(smoothed(mfcc, 5), factor)


def test_cepstra_scaled_towards_zero_are_accepted_at_most_at_the_promised_far(built: tuple) -> None:
    accepted, tried = _accepted(built, 0.6, None, scaled)
    assert accepted <= PROMISED_FAR * tried, f"{accepted} of {tried} scaled impostor answers accepted"


def test_smoothed_then_flattened_cepstra_are_accepted_at_most_at_the_promised_far(built: tuple) -> None:
    accepted, tried = _accepted(built, 0.7, 7.0, _smoothed_then_flattened)
    assert accepted <= PROMISED_FAR * tried, f"{accepted} of {tried} smoothed impostor answers accepted"


@pytest.mark.xfail(
    strict=True,
    reason="open: smoothed, mildly flattened, jittered and claiming noise in the energies passes the gate "
    "(SECURITY.md 'Other spectral edits': 43 of 2,400 development answers, 1.8%)",
)
def test_smoothed_jittered_cepstra_claiming_noise_are_accepted_at_most_at_the_promised_far(built: tuple) -> None:
    # The jitter restores the roughness the gate looks for, and the claimed energy floor pays the band power the
    # jittered cepstra need, so this attack is measured with the plausibility gate (a refused take refuses the
    # answer), unlike the rows above: without the gate, smoothing alone is refused by the roughness test.
    # 18 of these 1,200 answers accepted on 2026-12-04.
    gmm, policy, users, calibrations, clean, trials = built
    ubm = load_default_ubm()
    sent = {
        k: (jittered(flattened(smoothed(m, 5), 0.9), 0.15, np.random.default_rng([i, 7])), claimed_noise(e, 6.0))
        for i, (k, (m, e)) in enumerate(clean.items())
    }
    refused = {k for k, (m, e) in sent.items() if not speech.check(m, e, DEFAULT_CONFIG, ubm).ok}
    scored = deployment.score_takes(gmm, users, sent)
    accepted = sum(
        not any(k in refused for k in keys)
        and deployment.decided(scored, calibrations[user], user, keys, policy)[2].accept
        for user, _, keys in trials
    )
    assert accepted <= PROMISED_FAR * len(trials), f"{accepted} of {len(trials)} jittered impostor answers accepted"
