"""Noise over the API: the too_noisy answer (measured SNR and advice, never a number to steer by), the
quality-aware deployment calibration, and models from before noisy copies upgraded on first use."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from speakerverify.evaluation.crafted import claimed_noise
from speakerverify.evaluation.noise import mix
from speakerverify.features import extract, read_audio
from speakerverify.features.quality import BAND_SNR_MARGIN_DB, band_power, estimate_quality
from speakerverify.http.app import create_app
from speakerverify.models.calibration import DEGRADED_COHORT_BIAS, bounded, calibrate_deployment
from speakerverify.models.noise_signature import NOISE_NORMALISATION
from speakerverify.models.noisy_copies import DEFAULT_RECIPE, NO_COPIES, STATIONARY_RECIPE
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage import calibrations as stored_calibrations
from speakerverify.storage import utterances
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Calibration, DeploymentThreshold, SpeakerModelRow
from speakerverify.voice.takes import rebuild_model
from support.api_protocol import features_payload
from support.audit import audited
from support.fsdd import enrol_speaker, segments_for
from support.shared_data import require_fsdd


def _noisy_segments(speaker: str, digits: list[int], snr_db: float, take: int = 33) -> list[dict[str, Any]]:
    out = []
    for d in digits:
        path = require_fsdd() / "recordings" / f"{d}_{speaker}_{take}.wav"
        out.append({"digit": d, **features_payload(*extract(mix(read_audio(path), "white", snr_db, path.name)))})
    return out


def _claimed_segments(recorded: list[tuple[int, np.ndarray, np.ndarray]], snr_db: float) -> list[dict[str, Any]]:
    """Clean takes (digit, MFCCs, energies) with every frame's energy raised so that they measure at
    ``snr_db`` by their energies, the MFCCs as recorded (``evaluation.crafted.claimed_noise``: noise
    claimed, none in the bands)."""
    return [{"digit": d, **features_payload(mfcc, claimed_noise(energy, snr_db))} for d, mfcc, energy in recorded]


def _answer(client: TestClient, auth: dict[str, str], segments: Any) -> dict[str, Any]:
    ch = client.post("/api/v1/challenges", headers=auth)
    assert ch.status_code == 201, ch.text
    body = {"challenge_id": ch.json()["challenge_id"], "segments": segments(ch.json()["digits"])}
    r = client.post("/api/v1/verifications", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_too_noisy_answer_says_so_with_its_snr_and_a_quiet_one_is_decided_at_its_level(
    api: Any, settings: Any, database: Database
) -> None:
    # two ready users are a deployment here, so the quality-aware calibration is the one in use
    one_other = settings.with_(voice=replace(settings.voice, min_cohort_users=1))
    with TestClient(create_app(one_other)) as client:
        api.client = client
        for spk in ("nicolas", "george"):
            api.register(email=f"{spk}@example.org", alias=spk)
            enrol_speaker(client, api.login(email=f"{spk}@example.org"), spk)
        auth = api.login(email="george@example.org")
        # the deployment's first threshold is computed in the background (the provisional one serves until
        # then): the first challenge queues it, and the answers below wait for it
        assert client.post("/api/v1/challenges", headers=auth).status_code == 201
        assert client.app.state.ctx.background.wait_idle(300)  # type: ignore[attr-defined]
        clean = _answer(client, auth, lambda digits: segments_for("george", digits, 31))
        assert clean["decision"] == "accept", clean
        assert audited(database, clean["attempt_id"]).detail["calibration"] == "deployment"
        with database.read_session() as s:
            levels = s.scalars(select(DeploymentThreshold.levels)).one()
            quality = s.scalars(select(Calibration.quality)).all()
        assert levels is not None and len(levels["levels"]) == 4 and all(q is not None for q in quality)
        snrs = [lv[0] for lv in levels["levels"]]
        assert snrs == sorted(snrs, reverse=True) and snrs[-1] < 10 < snrs[0]
        _assert_levels_lowered_by_the_bias(database, levels, one_other.voice.threshold_range)
        # the cohort's noise signatures, per user and pooled: rising with the noise the cohort is degraded by
        assert all(q["clean_signature"] is not None and len(q["signature"]) == 4 for q in quality)
        assert levels["signature"] == sorted(levels["signature"]) and levels["clean_signature"] < levels["signature"][0]

        loud = _answer(client, auth, lambda digits: _noisy_segments("george", digits, -5.0))
        assert loud["decision"] == "reject" and loud["reason"] == "too_noisy"
        assert isinstance(loud["snr_db"], int) and loud["snr_db"] < snrs[-1]
        assert "quieter" in loud["advice"]
        assert set(loud) == {"attempt_id", "decision", "reason", "snr_db", "advice"}  # no score, no threshold
        row = audited(database, loud["attempt_id"])
        assert row.detail["reason"] == "too_noisy" and row.detail["snr_db"] < snrs[-1]

        # noise claimed in the energies alone is not measured: such an answer is judged at the SNR its mel
        # bands show (clean here), neither refused as too noisy nor held to a noisy level
        recorded: list[tuple[int, np.ndarray, np.ndarray]] = []

        def claiming(digits: list[int]) -> list[dict[str, Any]]:
            for d in digits:
                recorded.append((d, *extract(read_audio(require_fsdd() / "recordings" / f"{d}_george_33.wav"))))
            return _claimed_segments(recorded, -5.0)

        claimed = _answer(client, auth, claiming)
        assert claimed["reason"] != "too_noisy" and "snr_db" not in claimed, claimed
        # judged at what its mel bands show (less the margin), whatever its energies claim: nowhere near -5 dB
        bands = estimate_quality([band_power(m) for _, m, _ in recorded]).snr_db - BAND_SNR_MARGIN_DB
        measured = audited(database, claimed["attempt_id"]).detail["snr_db"]
        assert abs(measured - bands) <= 0.5 and measured > snrs[2], (measured, bands, snrs)

        at10 = _answer(client, auth, lambda digits: _noisy_segments("george", digits, 10.0, 35))
        assert at10["reason"] != "too_noisy" and "snr_db" not in at10
        row = audited(database, at10["attempt_id"])
        assert row.threshold is not None and 5 < row.detail["snr_db"] < 15  # measured near the 10 dB mixed in
        log = client.get("/api/v1/verifications", headers=auth).json()["attempts"]
        assert log[2]["reason"] == "too_noisy"  # newest first: at10, claimed, loud

        # a threshold stored before the bias correction (no "bias") is stale: recomputed in the background
        with database.write_session() as s:
            row = s.scalars(select(DeploymentThreshold)).one()
            row.levels = {k: v for k, v in row.levels.items() if k != "bias"}
        assert client.post("/api/v1/challenges", headers=auth).status_code == 201
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.read_session() as s:
                again = s.scalars(select(DeploymentThreshold.levels)).one()
            if again and "bias" in again:
                break
            time.sleep(0.2)
        assert again["bias"] == list(DEGRADED_COHORT_BIAS) and again["levels"] == levels["levels"]
        _assert_stale_without_signatures(client, auth, database, levels)


def _recomputed_without(
    client: TestClient, auth: dict[str, str], database: Database, keys: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Strip ``keys`` from the stored threshold's levels and every user row's quality (rows as an older
    version stored them), ask for a challenge, and wait until the background has stored them again: the
    threshold's levels and the users' quality documents then."""
    with database.write_session() as s:
        row = s.scalars(select(DeploymentThreshold)).one()
        row.levels = {k: v for k, v in row.levels.items() if k not in keys}
        for cal in s.scalars(select(Calibration)):
            cal.quality = {k: v for k, v in cal.quality.items() if k not in keys}
    assert client.post("/api/v1/challenges", headers=auth).status_code == 201
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with database.read_session() as s:
            again = s.scalars(select(DeploymentThreshold.levels)).one()
            quality = list(s.scalars(select(Calibration.quality)).all())
        if all(again.get(k) is not None and all(q.get(k) is not None for q in quality) for k in keys):
            break
        time.sleep(0.2)
    return again, quality


def _assert_stale_without_signatures(
    client: TestClient, auth: dict[str, str], database: Database, levels: dict[str, Any]
) -> None:
    """A threshold and user rows stored before the noise signatures are stale: recomputed with them."""
    again, quality = _recomputed_without(client, auth, database, ("signature", "clean_signature"))
    assert again["signature"] == pytest.approx(levels["signature"]) and again["levels"] == levels["levels"]
    assert all(q.get("clean_signature") is not None for q in quality)
    _assert_stale_on_another_scale(client, auth, database, levels)


def _assert_stale_on_another_scale(
    client: TestClient, auth: dict[str, str], database: Database, levels: dict[str, Any]
) -> None:
    """Rows whose scores were not noise-normalised (stored before it) are stale: recomputed on the new scale."""
    again, quality = _recomputed_without(client, auth, database, ("noise_normalisation",))
    assert again["noise_normalisation"] == NOISE_NORMALISATION and again["levels"] == levels["levels"]
    assert all(q.get("noise_normalisation") == NOISE_NORMALISATION for q in quality)


def _assert_levels_lowered_by_the_bias(database: Database, levels: dict[str, Any], bounds: tuple[float, float]) -> None:
    """Each stored level's threshold is the degraded cohort's own target-FAR point (recomputed here from the
    stored calibrations) lowered by ``DEGRADED_COHORT_BIAS`` and kept in ``threshold_range``."""
    with database.read_session() as s:
        rows = list(s.scalars(select(Calibration)))
        plain = calibrate_deployment(
            [stored_calibrations.calibration_scores(r) for r in rows],
            [r.n_cohort_users for r in rows],
            0.01,
            [r.location for r in rows],
            [n for n in (stored_calibrations.noisy_scores(r) for r in rows) if n is not None],
            level_bias=(0.0,) * len(DEGRADED_COHORT_BIAS),
        )
    assert levels["bias"] == list(DEGRADED_COHORT_BIAS)
    for (_, thr, _), lv, bias in zip(levels["levels"], plain.levels, DEGRADED_COHORT_BIAS, strict=True):
        assert thr == pytest.approx(bounded(lv.threshold - bias, *bounds)) and thr >= bounds[0]
        assert thr <= lv.threshold or lv.threshold - bias < bounds[0]  # never above the cohort's own point


def test_a_model_from_before_the_copies_is_rebuilt_with_them_on_first_use(
    client: TestClient, api: Any, database: Database
) -> None:
    api.register()
    auth = api.login()
    enrol_speaker(client, auth, "jackson")
    gmm = load_default_ubm().gmm
    rt = client.app.state.ctx.voice  # type: ignore[attr-defined]
    with database.write_session() as s:
        row = s.scalars(select(SpeakerModelRow)).one()
        assert row.copies_id == rt.recipes.copies_id and row.stats is None
        user_id = row.user_id
        enrolled = rt.speaker(s, user_id).model  # kept by enrolment, take by take
        takes = utterances.list_utterances(s, user_id)
        old = rebuild_model(gmm, takes, recipe=NO_COPIES)
        row.copies_id = None  # as stored before migration 0010
        expected = rebuild_model(gmm, takes)
    assert np.allclose(enrolled.n, expected.n, atol=1e-3)  # incremental enrolment == rebuild, copies included
    assert client.post("/api/v1/challenges", headers=auth).status_code == 201
    with database.read_session() as s:
        row = s.scalars(select(SpeakerModelRow)).one()
        assert row.copies_id == rt.recipes.copies_id
        upgraded = rt.speaker(s, user_id).model
    assert np.allclose(upgraded.n, expected.n, atol=1e-3) and not np.allclose(upgraded.n, old.n, atol=1.0)
    # deleting a take subtracts the take and its copies: the model is then the rebuild without it
    gone = client.get("/api/v1/enrolment/utterances", headers=auth).json()["utterances"][0]
    assert client.delete(f"/api/v1/enrolment/utterances/{gone['utterance_id']}", headers=auth).status_code == 204
    with database.read_session() as s:
        after = rt.speaker(s, user_id)
        rest = rebuild_model(gmm, utterances.list_utterances(s, user_id))
    assert np.allclose(after.model.n, rest.n, atol=1e-3) and np.allclose(after.model.f, rest.f, atol=1e-2)


def test_a_model_of_the_stationary_copies_alone_gains_its_content_model_on_first_use(
    client: TestClient, api: Any, database: Database
) -> None:
    """A model row from before the voice models' babble copies (one recipe, the stationary copies) is rebuilt
    as the pair: the voice model with the babble copies, the content check's with the stationary ones."""
    api.register()
    auth = api.login()
    enrol_speaker(client, auth, "theo")
    gmm = load_default_ubm().gmm
    rt = client.app.state.ctx.voice  # type: ignore[attr-defined]
    with database.write_session() as s:
        row = s.scalars(select(SpeakerModelRow)).one()
        row.copies_id = STATIONARY_RECIPE.copies_id  # as stored before 2026-12-03
        user_id = row.user_id
    rt.forget(user_id)
    with database.read_session() as s:
        assert rt.speaker(s, user_id) is None  # not a model this runtime scores
    assert client.post("/api/v1/challenges", headers=auth).status_code == 201
    with database.read_session() as s:
        assert s.scalars(select(SpeakerModelRow)).one().copies_id == rt.recipes.copies_id != STATIONARY_RECIPE.copies_id
        entry = rt.speaker(s, user_id)
        takes = utterances.list_utterances(s, user_id)
        voice, content = (rebuild_model(gmm, takes, recipe=r) for r in (DEFAULT_RECIPE, STATIONARY_RECIPE))
    assert entry is not None
    assert np.allclose(entry.model.n, voice.n, atol=1e-3) and np.allclose(entry.content.n, content.n, atol=1e-3)
    assert not np.allclose(voice.f, content.f, atol=1e-2)
