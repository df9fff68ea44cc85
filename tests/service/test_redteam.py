"""The attacks of issue 13, over the API, by someone who holds the victim's password (a session token)
and can send any feature values: crafted frames, perturbed replays of the victim's own takes, splices.

Each attack is counted as "N tried, N refused"; an attack succeeds only with an ``accept``. Lockout is
off here (it would refuse the later attempts for another reason) except where it is what is tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from speakerverify.config import Settings, VoicePolicy
from speakerverify.http.app import create_app
from speakerverify.models.ubm import load_default_ubm
from speakerverify.storage.db import Database
from speakerverify.storage.tables import Utterance, VerificationAttempt
from support import crafted, pgserver
from support.api_protocol import features_payload
from support.fsdd import enrol_speaker, take, utterance

VICTIM = "george"
OTHER = "lucas"  # the attacker's own voice, for frames to craft from
PASSWORD = "correct horse battery"
TAKE_REFUSALS = ("take-not-speech", "take-too-quiet", "take-too-short", "invalid-features")

pytestmark = pytest.mark.slow


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the defences are the same code on either backend (test_no_oracle and the reliability
    tests cover PostgreSQL), and each test here enrols a whole speaker."""
    return str(pgserver.fresh_database_url("sqlite", tmp_path))


@pytest.fixture
def victim(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings.with_(voice=VoicePolicy(lockout_after=0)))) as client:
        body = {"email": "v@example.org", "password": PASSWORD, "alias": "victim", "consent": True}
        assert client.post("/api/v1/users", json=body).status_code == 201
        r = client.post("/api/v1/sessions", json={"email": "v@example.org", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        enrol_speaker(client, auth, VICTIM)
        yield client, auth


def _answer(
    client: TestClient, auth: dict[str, str], build: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
) -> Any:
    """Get a challenge and answer each prompted digit d (position i) with ``build(d, i)``'s frames."""
    ch = client.post("/api/v1/challenges", headers=auth)
    assert ch.status_code == 201, ch.text
    digits = ch.json()["digits"]
    segments = [{"digit": d, **features_payload(*build(d, i))} for i, d in enumerate(digits)]
    return client.post(
        "/api/v1/verifications", json={"challenge_id": ch.json()["challenge_id"], "segments": segments}, headers=auth
    )


# A crafted value beyond float16's range must be refused before any numerics see it (inf, then NaN, not a warning).
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_crafted_takes_are_refused_and_never_stored(victim: Any, database: Database) -> None:
    client, auth = victim
    ubm = load_default_ubm().gmm
    builders = crafted.attack_builders(ubm.means, ubm.weights)
    rng = np.random.default_rng(0)
    tried = refused = 0
    for name in ("ramp", "constant", "extreme", "null", "gaussian", "shuffled", "ubm_means"):
        for digit in (2, 7):
            mfcc, energy = builders[name](take(OTHER, digit, 30), rng, None)
            r = client.post("/api/v1/enrolment/utterances", json=utterance(digit, mfcc, energy), headers=auth)
            tried += 1
            refused += r.status_code == 422
            assert r.status_code == 422 and r.json()["type"].endswith(
                ("take-not-speech", "take-too-quiet", "take-too-short", "invalid-features")
            ), (
                name,
                r.text,
            )
    with database.read_session() as s:
        stored = len(list(s.scalars(select(Utterance.id))))
    print(f"crafted takes: {tried} tried, {refused} refused")
    assert refused == tried and stored == 60  # the 60 genuine enrolment takes only


def test_crafted_answers_are_refused_before_scoring(victim: Any, database: Database) -> None:
    client, auth = victim
    ubm = load_default_ubm().gmm
    builders = crafted.attack_builders(ubm.means, ubm.weights)
    rng = np.random.default_rng(1)
    tried = refused = 0
    for name in ("ramp", "constant", "extreme", "null", "gaussian", "shuffled", "ubm_means"):
        r = _answer(client, auth, lambda d, _i, name=name: builders[name](take(OTHER, d, 31), rng, None))
        tried += 1
        refused += r.status_code == 422
        assert r.status_code == 422 and r.json()["type"].endswith(("not-speech", "invalid-features")), (name, r.text)
    with database.read_session() as s:
        rows = list(s.scalars(select(VerificationAttempt)))
    print(f"crafted answers: {tried} tried, {refused} refused")
    assert refused == tried
    # Counted as attempts (the gate cannot be probed for free), and never scored.
    not_speech = [a for a in rows if (a.detail or {}).get("reason") == "not_speech"]
    assert len(not_speech) >= 1 and all(a.score is None and a.decision == "reject" for a in not_speech)


def _noisy(
    mfcc: np.ndarray, energy: np.ndarray, scale: float, gain: float, rng: np.random.Generator
) -> tuple[Any, Any]:
    std = mfcc.std(axis=0, keepdims=True)
    return (mfcc + rng.normal(size=mfcc.shape) * scale * std).astype(np.float32), energy * gain


@pytest.mark.parametrize(("scale", "gain"), [(0.3, 1.0), (0.75, 1.0), (0.3, 30.0), (0.75, 30.0)])
def test_noised_copies_of_the_victims_takes_are_refused(
    victim: Any, database: Database, scale: float, gain: float
) -> None:
    """What an attacker holding an export of the victim's takes sends: each take plus Gaussian noise of
    ``scale`` x each coefficient's standard deviation, with the energies raised ``gain`` times so the
    noised spectra fit the frame's power budget (the plausibility check) and the replay check must act."""
    client, auth = victim
    rng = np.random.default_rng(2)
    answers = [_answer(client, auth, lambda d, i: _noisy(*take(VICTIM, d, i % 6), scale, gain, rng)) for _ in range(6)]
    accepted = sum(r.status_code == 200 and r.json()["decision"] == "accept" for r in answers)
    not_speech = sum(r.status_code == 422 and r.json()["type"].endswith("not-speech") for r in answers)
    flagged, segments = _replay_flags(database)
    print(
        f"noise {scale} x std, energy x {gain:g}: {len(answers)} answers tried, {len(answers) - accepted} refused "
        f"({not_speech} as not speech); {flagged} of {segments} scored segments flagged as replays"
    )
    # Refused either before scoring (noise no real spectrum produces) or as replays, segment by segment.
    assert accepted == 0 and flagged == segments == 5 * (len(answers) - not_speech)


def test_splices_of_two_takes_inside_a_segment_are_refused(victim: Any, database: Database) -> None:
    client, auth = victim

    def splice(d: int, i: int) -> tuple[np.ndarray, np.ndarray]:
        (m1, e1), (m2, e2) = take(VICTIM, d, i % 6), take(VICTIM, d, (i + 1) % 6)
        return np.vstack([m1[: len(m1) // 2], m2[len(m2) // 2 :]]), np.concatenate(
            [e1[: len(e1) // 2], e2[len(e2) // 2 :]]
        )

    answers = [_answer(client, auth, splice) for _ in range(6)]
    accepted = sum(r.status_code == 200 and r.json()["decision"] == "accept" for r in answers)
    flagged, segments = _replay_flags(database)
    print(f"splices: {len(answers)} answers tried, {len(answers) - accepted} refused; {flagged} of {segments} flagged")
    assert accepted == 0 and flagged == segments == 30


def test_fresh_genuine_answers_still_pass(victim: Any, database: Database) -> None:
    """The defences must not cost the victim: fresh takes (25-30) are not flagged and mostly accepted."""
    client, auth = victim
    answers = [_answer(client, auth, lambda d, _i, n=n: take(VICTIM, d, 25 + n)) for n in range(6)]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    flagged, segments = _replay_flags(database)
    assert flagged == 0 and segments == 30
    assert sum(r.json()["decision"] == "accept" for r in answers) >= 5


def _replay_flags(database: Database) -> tuple[int, int]:
    """Segments flagged as replays in the audit log, and segments scored."""
    with database.read_session() as s:
        details = [a.detail or {} for a in s.scalars(select(VerificationAttempt))]
    flags = [f for d in details for f in d.get("replay", [])]
    return sum(flags), len(flags)


def test_not_speech_answers_count_towards_the_lockout(settings: Settings) -> None:
    policy = VoicePolicy(lockout_after=3, lockout_seconds=60)
    with TestClient(create_app(settings.with_(voice=policy))) as client:
        body = {"email": "w@example.org", "password": PASSWORD, "alias": "wvictim", "consent": True}
        assert client.post("/api/v1/users", json=body).status_code == 201
        r = client.post("/api/v1/sessions", json={"email": "w@example.org", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        enrol_speaker(client, auth, VICTIM)
        rng = np.random.default_rng(3)
        for _ in range(3):
            r = _answer(client, auth, lambda d, _i: crafted.gaussian(take(OTHER, d, 32), rng))
            assert r.status_code == 422, r.text
        assert client.post("/api/v1/challenges", headers=auth).status_code == 429
