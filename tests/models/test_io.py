from __future__ import annotations

import io

import numpy as np
import pytest

from speakerverify.models.gmm import DiagGMM
from speakerverify.models.io import load_gmm, save_gmm
from speakerverify.models.ubm import load_default_ubm


def test_roundtrip_keeps_parameters_and_meta():
    rng = np.random.default_rng(0)
    gmm = DiagGMM(np.array([0.25, 0.75]), rng.normal(size=(2, 3)), rng.uniform(1, 2, (2, 3)))
    buf = io.BytesIO()
    save_gmm(buf, gmm, {"ubm_id": "x"})
    buf.seek(0)
    back, meta = load_gmm(buf)
    assert meta["ubm_id"] == "x"
    assert np.allclose(back.means, gmm.means, atol=1e-6)


def test_object_arrays_are_refused():
    buf = io.BytesIO()
    np.savez(buf, weights=np.array([object()], dtype=object))
    buf.seek(0)
    with pytest.raises(ValueError):
        load_gmm(buf)


def test_shipped_ubm_loads_and_credits_its_corpus():
    ubm = load_default_ubm()
    assert ubm.gmm.n_components == 256 and ubm.gmm.dim == 36
    assert "speechocean762" in ubm.meta["corpus"]
    assert ubm.config_id == "mfcc-8k-v1"
    assert np.isclose(ubm.gmm.weights.sum(), 1)
    assert np.all(ubm.gmm.variances > 0)


def test_speaker_model_roundtrip():
    from speakerverify.models.io import load_speaker_model, save_speaker_model
    from speakerverify.models.speaker import SpeakerModel, Stats

    rng = np.random.default_rng(1)
    model = SpeakerModel.empty(4, 3).add(2, Stats(rng.uniform(0, 5, 4), rng.normal(size=(4, 3))))
    buf = io.BytesIO()
    save_speaker_model(buf, model, {"ubm_id": "u1"})
    buf.seek(0)
    back, meta = load_speaker_model(buf)
    assert meta["ubm_id"] == "u1"
    assert back.takes.tolist() == model.takes.tolist()
    assert np.allclose(back.f, model.f, rtol=1e-6) and np.allclose(back.n, model.n, rtol=1e-6)
