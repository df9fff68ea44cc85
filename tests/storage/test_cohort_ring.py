"""The calibration cohort is stable: a user who joins changes only its neighbours' cohorts on the id ring,
however early its id sorts (the rule "the first N ready users by id" changed everyone's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import update

from speakerverify.models.ubm import UBM
from speakerverify.storage import speaker_models, ubms
from speakerverify.storage.db import Database
from speakerverify.storage.tables import SpeakerModelRow, User

MakeUser = Callable[[Database, str], uuid.UUID]
LIMIT = 5


def _ready(database: Database, user_id: uuid.UUID, ubm: UBM) -> None:
    with database.write_session() as s:
        s.add(SpeakerModelRow(user_id=user_id, ubm_id=ubm.ubm_id, stats=b"", ready=True))


def _cohorts(database: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    with database.read_session() as s:
        return {u: speaker_models.cohort_ids(s, u, LIMIT) for u in ids}


def test_a_user_joining_with_the_smallest_id_changes_only_its_neighbours_cohorts(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    ubm = tiny_ubm()
    with database.write_session() as s:
        ubms.put_ubm(s, ubm)
    ids = [make_user(database, f"u{i}") for i in range(30)]
    for u in ids:
        _ready(database, u, ubm)
    before = _cohorts(database, ids)
    assert all(len(c) == LIMIT and u not in c for u, c in before.items())
    newcomer = make_user(database, "newcomer")
    with database.write_session() as s:  # the id that sorts first of all: the old rule's worst case
        s.execute(update(User).where(User.id == newcomer).values(id=uuid.UUID(int=1)))
    _ready(database, uuid.UUID(int=1), ubm)
    after = _cohorts(database, ids)
    changed = [u for u in ids if after[u] != before[u]]
    assert 0 < len(changed) <= LIMIT, len(changed)
    assert all(uuid.UUID(int=1) in after[u] for u in changed)
    # the ring wraps: the users with the largest ids are the ones whose cohort now holds the newcomer
    assert set(changed) == set(sorted(ids)[-len(changed) :])


def test_the_cohort_is_the_ready_users_following_on_the_ring(
    database: Database, make_user: MakeUser, tiny_ubm: Callable[..., UBM]
) -> None:
    ubm = tiny_ubm()
    with database.write_session() as s:
        ubms.put_ubm(s, ubm)
    ids = sorted(make_user(database, f"v{i}") for i in range(8))
    for u in ids[:-1]:  # the last one is not ready: never in a cohort
        _ready(database, u, ubm)
    ready = ids[:-1]
    with database.read_session() as s:
        assert speaker_models.cohort_ids(s, ready[4], LIMIT) == [ready[5], ready[6], ready[0], ready[1], ready[2]]
        assert speaker_models.cohort_ids(s, ready[0], 3) == ready[1:4]
        assert speaker_models.cohort_ids(s, ids[-1], 10) == ready  # a user not ready: all others, once
