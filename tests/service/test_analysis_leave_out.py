"""The analysis views' reference row scores each trial against the model of the OTHER takes: a take is
taken out with everything it put in (its noisy copies too), so the reduced model is the one derived from
the remaining takes and the reference is not flattered by copies of the very takes it scores."""

from __future__ import annotations

import uuid

import numpy as np

from speakerverify.app import analysis, enrolment
from speakerverify.app.context import AppContext
from speakerverify.app.frames import DigitFrames
from speakerverify.models.cohort import assemble_trials, take_llr_sums
from speakerverify.models.speaker import digit_means
from speakerverify.storage import utterances
from speakerverify.voice.decision import Calibration
from speakerverify.voice.takes import rebuild_model, take_features
from support.fsdd import take


def test_reference_trials_score_against_the_model_derived_from_the_other_takes(
    registered: tuple[AppContext, uuid.UUID],
) -> None:
    ctx, user_id = registered
    for n in range(3):
        for digit in range(10):
            enrolment.enrol(ctx, user_id, DigitFrames(digit, *take("jackson", digit, n)))
    calib = Calibration(mode="provisional", location=0.25, threshold=0.5, k=3)
    rt, gmm = ctx.voice, ctx.voice.ubm.gmm
    with ctx.db.read_session() as s:
        model = rt.speaker(s, user_id)
        rows = [r for r in utterances.list_utterances(s, user_id) if r.suspect_digit is None]
        assert model is not None and len(rows) >= 25
        got = analysis._reference(ctx, model, rows, calib)
    takes = [(r.digit, take_features(r, rt.post)) for r in rows]
    trials = assemble_trials(
        np.array([d for d, _ in takes]),
        np.zeros(len(takes), int),
        3,
        analysis.REFERENCE_TRIALS,
        np.random.default_rng(0),
    )
    want = []
    for trial in trials:
        held = set(map(int, trial))
        others = rebuild_model(gmm, [r for i, r in enumerate(rows) if i not in held], rt.post, rt.recipes.voice)
        sums, counts = take_llr_sums(gmm, digit_means(gmm, others, rt.adaptation), [takes[i] for i in trial])
        want.append(float(sums.sum() / counts.sum()) - calib.location)
    assert len(got) == len(want) == analysis.REFERENCE_TRIALS
    assert np.allclose(got, want, atol=1e-3), np.abs(np.asarray(got) - want).max()
