"""Utterances, speaker models and the export: arrays round-trip, concurrent updates are not lost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy.exc import IntegrityError

from speakerverify.config import VoicePolicy
from speakerverify.models.digits import digit_scores
from speakerverify.models.gmm import DiagGMM
from speakerverify.models.speaker import SpeakerModel, digit_means, weighted_stats
from speakerverify.models.ubm import UBM
from speakerverify.storage import export, speaker_models, ubms, utterances
from speakerverify.storage.arrays import encode_npz
from speakerverify.storage.db import Database
from speakerverify.storage.tables import SpeakerModelRow, Utterance

REQUIRED = VoicePolicy().takes_per_digit

MakeUser = Callable[[Database, str], uuid.UUID]


def test_utterance_features_are_stored_at_the_wire_precision(database: Database, make_user: MakeUser) -> None:
    """float16 MFCCs and float16 ln(1 + energy), 2 bytes a value; what is read back is exactly
    ``as_stored`` of what was sent (enrolment scores those), within float16 rounding of it."""
    uid = make_user(database, "dora")
    rng = np.random.default_rng(1)
    mfcc, energy = rng.normal(0, 40, size=(37, 13)), rng.uniform(0, 4e11, size=37)
    with database.write_session() as s:
        row_id = utterances.add_utterance(s, uid, 7, "mfcc-8k-v1", mfcc, energy).id
    with database.read_session() as s:
        row = s.get(Utterance, row_id)
        assert row is not None
        got_mfcc, got_energy = utterances.utterance_arrays(row)
        assert (row.digit, row.n_frames, row.n_mfcc, row.config_id) == (7, 37, 13, "mfcc-8k-v1")
        assert len(row.mfcc) == 37 * 13 * 2 and len(row.energy) == 37 * 2  # compact: 2 bytes per value
    want_mfcc, want_energy = utterances.as_stored(mfcc, energy)
    np.testing.assert_array_equal(got_mfcc, want_mfcc)
    np.testing.assert_array_equal(got_energy, want_energy)
    np.testing.assert_allclose(got_mfcc, mfcc, rtol=2**-11, atol=1e-6)
    np.testing.assert_allclose(np.log1p(got_energy), np.log1p(energy), rtol=2**-10)
    again = utterances.as_stored(*utterances.as_stored(mfcc, energy))  # idempotent: no drift on a re-store
    np.testing.assert_array_equal(again[0], want_mfcc)
    np.testing.assert_array_equal(again[1], want_energy)


def test_takes_stored_as_float32_by_earlier_versions_still_read(database: Database, make_user: MakeUser) -> None:
    uid = make_user(database, "old")
    rng = np.random.default_rng(2)
    mfcc, energy = rng.normal(size=(9, 13)).astype("<f4"), rng.uniform(0, 50, size=9).astype("<f4")
    with database.write_session() as s:
        row = utterances.add_utterance(s, uid, 3, "mfcc-8k-v1", mfcc, energy)
        row.mfcc, row.energy = mfcc.tobytes(), energy.tobytes()  # the float32 layout of before
    with database.read_session() as s:
        got = utterances.utterance_arrays(s.get(Utterance, row.id))
    np.testing.assert_array_equal(got[0], mfcc)
    np.testing.assert_array_equal(got[1], energy)


@pytest.mark.parametrize(
    ("digit", "mfcc_shape", "energy_shape"),
    [(10, (5, 13), (5,)), (-1, (5, 13), (5,)), (1, (5, 13), (4,)), (1, (0, 13), (0,)), (1, (5,), (5,))],
)
def test_bad_utterances_are_refused(
    database: Database, make_user: MakeUser, digit: int, mfcc_shape: tuple[int, ...], energy_shape: tuple[int, ...]
) -> None:
    uid = make_user(database, "eve")
    with pytest.raises(ValueError), database.write_session() as s:
        utterances.add_utterance(s, uid, digit, "mfcc-8k-v1", np.zeros(mfcc_shape), np.zeros(energy_shape))


def test_database_enforces_the_digit_range(database: Database, make_user: MakeUser) -> None:
    uid = make_user(database, "fay")
    with pytest.raises(IntegrityError), database.write_session() as s:
        s.add(Utterance(user_id=uid, digit=11, config_id="x", n_frames=1, n_mfcc=1, mfcc=b"\0" * 4, energy=b"\0" * 4))


def test_enrolment_progress_counts_only_this_users_takes(database: Database, make_user: MakeUser) -> None:
    a, b = make_user(database, "gus"), make_user(database, "hal")
    frames = (np.zeros((3, 13)), np.zeros(3))
    with database.write_session() as s:
        for digit, n in [(0, 2), (4, 7)]:
            for _ in range(n):
                utterances.add_utterance(s, a, digit, "mfcc-8k-v1", *frames)
        for digit in range(10):  # b is fully enrolled; none of it may leak into a's progress
            for _ in range(6):
                utterances.add_utterance(s, b, digit, "mfcc-8k-v1", *frames)
    with database.read_session() as s:
        pa, pb = utterances.enrolment_progress(s, a, REQUIRED), utterances.enrolment_progress(s, b, REQUIRED)
    assert pa.takes_per_digit == (2, 0, 0, 0, 7, 0, 0, 0, 0, 0)
    assert pa.percent == (2 + 6) * 100 // 60  # takes beyond the requirement do not count
    assert not pa.ready
    assert pb.ready and pb.percent == 100


def _touch_n_times(db: Database, uid: uuid.UUID, ubm: UBM, n: int) -> None:
    for _ in range(n):
        with db.write_session() as s:
            speaker_models.touch_model(s, uid, ubm.ubm_id, False)


def test_concurrent_model_updates_are_never_lost(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    """Every change to a user's takes bumps the model row's version once, whatever runs alongside: that
    version is what tells every worker its cached (derived) model is stale."""
    uid, ubm = make_user(database, "ivy"), tiny_ubm()
    with database.write_session() as s:
        ubms.put_ubm(s, ubm)
    workers, each = 4, 6
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _touch_n_times(database, uid, ubm, each)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.read_session() as s:
        row = speaker_models.get_model(s, uid)
        assert row is not None
        assert row.stats is None  # derived from the takes, not stored
        version = row.version
    assert version == 1 + workers * each  # created once, then one versioned UPDATE per change


def test_a_model_row_from_before_0013_loses_its_statistics_on_the_next_change(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    uid, ubm = make_user(database, "jon"), tiny_ubm()
    c, d = ubm.gmm.means.shape
    with database.write_session() as s:
        ubms.put_ubm(s, ubm)
        old = speaker_models.encode_model(SpeakerModel.empty(c, d))
        s.add(SpeakerModelRow(user_id=uid, ubm_id=ubm.ubm_id, copies_id=None, stats=old, ready=False))
    with database.write_session() as s, pytest.raises(ValueError, match="copies"):
        speaker_models.touch_model(s, uid, ubm.ubm_id, False, "other-copies")  # not rebased: refused
    with database.write_session() as s:
        speaker_models.touch_model(s, uid, ubm.ubm_id, True)
    with database.read_session() as s:
        row = speaker_models.get_model(s, uid)
        assert row is not None and row.stats is None and row.ready and row.version == 2


def test_models_stored_by_earlier_versions_still_load() -> None:
    rng = np.random.default_rng(3)
    n, f = rng.uniform(0, 5, (10, 4)), rng.normal(size=(10, 4, 3))
    takes = np.arange(10)
    legacy = encode_npz({"n": n, "f": f, "takes": takes}, {"kind": "speaker-stats"})
    model = speaker_models.decode_model(legacy)
    np.testing.assert_array_equal(model.f, f)
    np.testing.assert_array_equal(model.takes, takes)


def test_a_model_kept_through_many_updates_equals_the_one_derived_from_the_remaining_takes() -> None:
    """2000 takes added one by one to the statistics a worker keeps (float64), then 500 removed: the digit
    means equal those derived from the remaining takes at once (``weighted_stats`` over each digit's
    stacked frames, as ``VoiceRuntime.derive`` computes them) to float32 posterior rounding, 1e-4 feature
    units; the float16 storage this replaced drifted by 0.1 after 600 updates."""
    rng = np.random.default_rng(7)
    c, d = 64, 36
    ubm = DiagGMM(np.full(c, 1 / c), rng.normal(0, 20, (c, d)), rng.uniform(5, 60, (c, d)))
    kept = SpeakerModel.empty(c, d)
    added = []
    for i in range(2000):
        frames = ubm.means[rng.integers(0, c, 40)] + rng.normal(0, 4, (40, d))
        digit = i % 10
        added.append((digit, frames))
        kept = kept.add(digit, weighted_stats(ubm, frames, np.ones(len(frames))))
    for digit, frames in added[:500]:
        kept = kept.remove(digit, weighted_stats(ubm, frames, np.ones(len(frames))))
    rest = added[500:]
    derived = SpeakerModel.empty(c, d)
    n, f = derived.n.copy(), derived.f.copy()
    for digit in range(10):
        x = np.concatenate([fr for dg, fr in rest if dg == digit])
        st = weighted_stats(ubm, x, np.ones(len(x)))
        n[digit], f[digit] = st.n, st.f
    derived = SpeakerModel(n, f, np.bincount([dg for dg, _ in rest], minlength=10))
    assert np.array_equal(kept.takes, derived.takes)
    want, got = digit_means(ubm, derived), digit_means(ubm, kept)
    assert np.abs(got - want).max() < 1e-4
    frames = ubm.means[rng.integers(0, c, 200)] + rng.normal(0, 4, (200, d))
    moved = np.abs(digit_scores(ubm, got, frames) - digit_scores(ubm, want, frames))
    assert moved.max() < 1e-4


def test_a_model_cannot_switch_ubm_silently(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    uid, first, second = make_user(database, "kim"), tiny_ubm("ubm-a"), tiny_ubm("ubm-b")
    with database.write_session() as s:
        ubms.put_ubm(s, first)
        ubms.put_ubm(s, second)
    _touch_n_times(database, uid, first, 1)
    with pytest.raises(ValueError, match="ubm-a"):
        _touch_n_times(database, uid, second, 1)


def test_export_covers_every_user_table_and_only_this_user(database: Database, make_user: MakeUser) -> None:
    a, b = make_user(database, "lea"), make_user(database, "max")
    with database.write_session() as s:
        utterances.add_utterance(s, a, 1, "mfcc-8k-v1", np.full((2, 13), 1.5), np.array([3.0, 4.0]))
        utterances.add_utterance(s, b, 1, "mfcc-8k-v1", np.zeros((2, 13)), np.zeros(2))
    with database.read_session() as s:
        records = export.user_records(s, a)
        assert export.user_records(s, uuid.uuid4()) is None
    assert records is not None
    assert set(records) == {"users"} | {t.name for t in export.user_tables()}
    assert {"utterances", "speaker_models", "challenges", "verification_attempts", "revoked_tokens"} <= set(records)
    assert records["users"][0]["email"] == "lea@example.org"
    assert records["users"][0]["password_hash"] == export.WITHHELD["users"]["password_hash"]
    [utt] = records["utterances"]
    assert utt["mfcc"] == [[1.5] * 13] * 2 and utt["energy"] == pytest.approx([3.0, 4.0], rel=2e-3)  # float16 ln(1+e)
    assert str(b) not in str(records)
