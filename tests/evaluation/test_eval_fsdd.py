"""The protocol end to end on FSDD through the CLI (a short run; the full one is in BENCHMARKS.md)."""

from __future__ import annotations

import json

import pytest

from speakerverify.cli import main


@pytest.mark.slow
def test_eval_cli_writes_records_and_gmm_ubm_beats_baseline(fsdd, tmp_path, capsys):
    out = tmp_path / "r.json"
    det = tmp_path / "det.png"
    code = main(
        [
            "eval",
            "--corpus",
            str(fsdd),
            "--k",
            "3",
            "--trials",
            "60",
            "--conditions",
            "clean",
            "--systems",
            "seed-baseline",
            "gmm-ubm-digit",
            "--json",
            str(out),
            "--det",
            str(det),
        ]
    )
    assert code == 0
    records = json.loads(out.read_text())
    assert {r["system"] for r in records} == {"seed-baseline", "gmm-ubm-digit"}
    for r in records:
        assert set(r) == {"system", "condition", "k", "eer", "min_dcf", "frr_at_far1", "n_target", "n_impostor"}
        assert r["n_target"] == 6 * 60 and r["n_impostor"] == 5 * 6 * 60
    by = {r["system"]: r for r in records}
    assert by["gmm-ubm-digit"]["eer"] < by["seed-baseline"]["eer"]
    assert by["gmm-ubm-digit"]["eer"] < 5.0
    assert det.stat().st_size > 1000
    assert "| gmm-ubm-digit | clean | 3 |" in capsys.readouterr().out


def test_eval_cli_reports_a_missing_corpus(tmp_path, capsys):
    assert main(["eval", "--corpus", str(tmp_path / "none")]) == 2
    assert "no such corpus folder" in capsys.readouterr().err


def test_features_cli_prints_the_api_payload(fsdd, capsys):
    from speakerverify.features import extract, read_audio

    wav = fsdd / "recordings" / "7_jackson_32.wav"
    assert main(["features", str(wav), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    _, energy = extract(read_audio(wav))
    assert payload["config_id"] == "mfcc-8k-v1"
    assert len(payload["mfcc"]) == len(payload["energy"]) == len(energy)
    assert all(len(row) == 13 for row in payload["mfcc"])
    assert payload["energy"][5] == energy[5]


def test_features_cli_rejects_bad_audio(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    assert main(["features", str(bad), "--json"]) == 2
    assert "bad.wav" in capsys.readouterr().err


def test_eval_cli_checks_the_babble_corpus_before_any_work(fsdd, tmp_path, capsys):
    args = ["eval", "--corpus", str(fsdd), "--conditions", "clean", "babble10", "--babble-corpus", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "babble10" in err and "--babble-corpus" in err and "UBM" not in err


def test_eval_cli_refuses_an_unknown_condition(fsdd, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--corpus", str(fsdd), "--conditions", "white15"])
    assert exc.value.code == 2 and "white15" in capsys.readouterr().err


def test_noise_conditions_are_the_tuned_and_held_out_kinds_at_20_10_and_5_db():
    from speakerverify.evaluation.runner import CONDITIONS, check_conditions

    kinds = ("white", "pink", "babble", "hum", "fan", "clatter", "music")
    assert {c for c in CONDITIONS if c not in ("clean", "noisy10")} == {f"{k}{s}" for k in kinds for s in (20, 10, 5)}
    with pytest.raises(ValueError, match="unknown conditions"):
        check_conditions(["clean", "brown10"], ".")


def test_eval_scores_the_digit_system_as_the_service_scores_an_answer(fsdd):
    """``eval``'s gmm-ubm-digit numbers are the service's: the same bounded, noise-normalised score that
    ``voice.decision.score_answer`` gives a one-digit answer, here on a noisy take so the signature matters."""
    from speakerverify.evaluation.corpus import read_fsdd
    from speakerverify.evaluation.runner import _features, _service_sums
    from speakerverify.features import DEFAULT_POST, postprocess
    from speakerverify.models.noise_signature import noise_model_terms
    from speakerverify.models.noisy_copies import DEFAULT_RECIPE, take_stats
    from speakerverify.models.scoring import model_terms
    from speakerverify.models.speaker import DEFAULT_ADAPTATION, SpeakerModel, digit_means
    from speakerverify.models.ubm import load_default_ubm
    from speakerverify.voice.decision import score_answer

    gmm = load_default_ubm().gmm
    assert noise_model_terms(gmm) is not None  # the shipped noise model is what makes the scores differ
    recs = [r for r in read_fsdd(str(fsdd)) if r.speaker == "jackson"]
    model = SpeakerModel.empty(gmm.n_components, gmm.dim)
    for rec in [r for r in recs if r.take < 3]:
        model = model.add(
            rec.digit, take_stats(gmm, *_features(rec, None, "")["default"], DEFAULT_POST, DEFAULT_RECIPE)
        )
    means = digit_means(gmm, model, DEFAULT_ADAPTATION)  # (10, C, D)
    test = next(r for r in recs if r.take == 30 and r.digit == 4)
    feats = postprocess(*_features(test, ("white", 10.0), "")["default"], DEFAULT_POST)
    sums, count = _service_sums(gmm, means[[4]], feats, DEFAULT_ADAPTATION, noise_model_terms(gmm))
    answer = score_answer(gmm, model_terms(gmm, means), [4], [4], [feats], 1, 1e9, DEFAULT_ADAPTATION.top_c)
    assert count == len(feats) == answer.n_frames
    assert answer.signature is not None and abs(answer.signature) > 0.01
    assert sums[0] / count == pytest.approx(answer.raw, abs=1e-6)
