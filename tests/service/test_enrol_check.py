"""Enrolment content checks: every take checked from one take of every digit on, and stored takes that
contradict the others flagged (``suspect``) and left out of the model and the progress."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from speakerverify.app import enrolment
from speakerverify.app.errors import TakeRejected
from speakerverify.app.frames import DigitFrames
from speakerverify.evaluation.protocol import DEV_TAKES
from support.fsdd import take, utterance

URL = "/api/v1/enrolment/utterances"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
# The content check does not depend on the database: these slow runs use SQLite only (the db_url fixture's
# backend chosen here, not skipped on PostgreSQL); the other tests of this file run on both.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def listed(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    r = client.get(URL, headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_microphone_saying_wrong_digits_from_round_one_never_enrols(client: TestClient, api: Any) -> None:
    """The attack of issue 14: before, the first three rounds were never checked (30 of 30 accepted)."""
    api.register()
    auth = api.login()
    refused = 0
    for i in range(60):
        counts = listed(client, auth)["progress"]["takes_per_digit"]
        digit = i if i < 10 else min(range(10), key=lambda d: counts[d])
        spoken = (digit + 1 + (7 * i) % 9) % 10  # a different wrong digit each time, never the prompted one
        r = client.post(URL, json=utterance(digit, *take("lucas", spoken, i // 10)), headers=auth)
        assert r.status_code in (201, 422), r.text
        if r.status_code == 422:
            assert r.json()["reason"] == "wrong_digit" and "closest" in r.json()["detail"]
            refused += 1
    out = listed(client, auth)
    flagged = [u for u in out["utterances"] if u["suspect"] is not None]
    assert not out["progress"]["ready"]
    assert refused + len(flagged) >= 40, (refused, len(flagged))
    assert sum(out["progress"]["takes_per_digit"]) == len(out["utterances"]) - len(flagged)


@pytest.mark.slow
@SQLITE_ONLY
def test_genuine_enrolment_is_unaffected(client: TestClient, api: Any) -> None:
    """All six FSDD speakers enrol takes 0-5 of every digit: at most one genuine take in a hundred is
    refused (then said again: the next take), none is left flagged, every speaker ends ready."""
    refused = 0
    for s in SPEAKERS:
        api.register(email=f"{s}@example.org", alias=s)
        auth = api.login(email=f"{s}@example.org")
        for n in range(6):
            for digit in range(10):
                for attempt in (n, *range(6, 25)):
                    r = client.post(URL, json=utterance(digit, *take(s, digit, attempt)), headers=auth)
                    if r.status_code == 201:
                        break
                    assert r.json()["reason"] == "wrong_digit", r.text
                    refused += 1
        out = listed(client, auth)
        assert out["progress"]["ready"], (s, out["progress"])
        assert all(u["suspect"] is None for u in out["utterances"]), s
    assert refused <= 3, refused  # of 6 x 60 takes, ~300 of them checked


def test_a_mislabelled_first_round_take_is_flagged_then_re_recorded(client: TestClient, api: Any) -> None:
    """Runs on SQLite and PostgreSQL (the ``client`` fixture's backends)."""
    api.register()
    auth = api.login()
    ids = {}
    for digit in range(10):
        spoken = 8 if digit == 3 else digit  # the microphone said 8 when 3 was prompted
        r = client.post(URL, json=utterance(digit, *take("lucas", spoken, 0)), headers=auth)
        assert r.status_code == 201, r.text
        ids[digit] = r.json()["utterance_id"]
    out = listed(client, auth)
    suspect = {u["utterance_id"]: u["suspect"] for u in out["utterances"]}
    assert suspect[ids[3]] is not None, out  # flagged as soon as every digit had a take
    assert suspect[ids[3]]["code"] == "wrong_digit"
    assert "8" in suspect[ids[3]]["detail"] and "record 3 again" in suspect[ids[3]]["detail"]
    assert out["progress"]["takes_per_digit"][3] == 0  # a suspect take counts for nothing
    # With one take a digit the check is weak (genuine takes are flagged too, ~1 in 5: BENCHMARKS.md);
    # a second round settles it: the genuine flags clear, the mislabelled take stays flagged.
    for digit in range(10):
        r = client.post(URL, json=utterance(digit, *take("lucas", digit, 1)), headers=auth)
        assert r.status_code == 201, r.text
    out = listed(client, auth)
    assert [u["utterance_id"] for u in out["utterances"] if u["suspect"]] == [ids[3]], out
    assert out["progress"]["takes_per_digit"] == [2, 2, 2, 1, 2, 2, 2, 2, 2, 2]
    assert client.delete(f"{URL}/{ids[3]}", headers=auth).status_code == 204
    r = client.post(URL, json=utterance(3, *take("lucas", 3, 2)), headers=auth)
    assert r.status_code == 201 and r.json()["suspect"] is None, r.text
    out = listed(client, auth)
    assert all(u["suspect"] is None for u in out["utterances"]) and out["progress"]["takes_per_digit"] == [2] * 10


def test_two_first_round_takes_swapped_do_not_lock_out_their_digits(client: TestClient, api: Any) -> None:
    """The poisoning case of issue 14: the microphone said 7 when 2 was prompted and 2 when 7 was. With
    one take a digit the swap is consistent (neither take is flagged after round 1), so each later genuine
    take of 2 sounds like the stored "7" and was refused, and the swapped takes were never found out (every
    genuine take of 2 and 7 refused, for ever). Now a refused take's rival digit is checked first: the
    genuine takes pass and the swapped takes end flagged. Runs on SQLite and PostgreSQL."""
    api.register()
    auth = api.login()
    ids = {}
    for digit in range(10):
        spoken = {2: 7, 7: 2}.get(digit, digit)
        r = client.post(URL, json=utterance(digit, *take("lucas", spoken, 0)), headers=auth)
        assert r.status_code == 201, r.text
        ids[digit] = r.json()["utterance_id"]
    refused = []
    for n in (1, 2):
        for digit in range(10):
            r = client.post(URL, json=utterance(digit, *take("lucas", digit, n)), headers=auth)
            assert r.status_code in (201, 422), r.text
            if r.status_code == 422:
                refused.append((n, digit))
    assert refused == []
    out = listed(client, auth)
    flagged = {u["utterance_id"] for u in out["utterances"] if u["suspect"] is not None}
    assert flagged == {ids[2], ids[7]}, out
    assert out["progress"]["takes_per_digit"] == [3, 3, 2, 3, 3, 3, 3, 2, 3, 3]


def test_a_mislabelled_take_that_survived_the_first_rounds_is_flagged_once_the_check_has_settled(
    client: TestClient, api: Any
) -> None:
    """The microphone said 3 when 0 was prompted in round one (nicolas), where nothing checks the take
    at submission. Left out, it trails 3 by less than the first rounds' margin (0.8; ~0.7 at the end):
    before, it stayed in the model for good. With five other takes a digit the check has settled and the
    tighter margin flags it; the genuine takes (3's among them) are neither refused nor left flagged.
    Runs on SQLite and PostgreSQL."""
    api.register()
    auth = api.login()
    refused, ids = [], {}
    for n in range(6):
        for digit in range(10):
            spoken, take_no = (3, 13) if (n, digit) == (0, 0) else (digit, 6 + n + (digit == 0))
            r = client.post(URL, json=utterance(digit, *take("nicolas", spoken, take_no)), headers=auth)
            assert r.status_code in (201, 422), r.text
            if r.status_code == 422:
                refused.append((n, digit))
            else:
                ids[(n, digit)] = r.json()["utterance_id"]
    assert refused == []
    out = listed(client, auth)
    flagged = {u["utterance_id"] for u in out["utterances"] if u["suspect"] is not None}
    assert flagged == {ids[(0, 0)]}
    assert out["progress"]["takes_per_digit"] == [5] + [6] * 9


def test_two_agreeing_mislabelled_takes_do_not_lock_out_the_digit_they_say(client: TestClient, api: Any) -> None:
    """In rounds one and two the microphone said 7 when 3 was prompted (yweweler). The two wrong takes
    support each other in 3's model, so a leave-one-out check of 3's takes finds neither: before, every
    later genuine take of 7 was refused as sounding like 3, no round completed, the re-check never ran and
    the user never got ready. Now 3's takes are also checked together (``leave_set_out``): once 3 holds a
    genuine take to tell them from, both wrong takes are flagged and the genuine 7s pass. Before that (the
    7 of round two) nothing of 3 is left to tell them from 7 by, and the take may be refused."""
    api.register()
    auth = api.login()
    wrong, refused = set(), []
    for n in range(6):
        for digit in range(10):
            mislabelled = digit == 3 and n < 2
            spoken, take_no = (7, 12 + n) if mislabelled else (digit, 4 + n if digit == 3 else 6 + n)
            r = client.post(URL, json=utterance(digit, *take("yweweler", spoken, take_no)), headers=auth)
            assert r.status_code in (201, 422), r.text
            if r.status_code == 422:
                assert r.json()["reason"] == "wrong_digit", r.text
                refused.append((n, digit, mislabelled))
            elif mislabelled:
                wrong.add(r.json()["utterance_id"])
    # No genuine take refused once 3 holds a genuine take (before: 7's, rounds 2-6).
    assert all(bad or n < 2 for n, _, bad in refused), refused
    out = listed(client, auth)
    flagged = {u["utterance_id"] for u in out["utterances"] if u["suspect"] is not None}
    assert flagged == wrong, (flagged, wrong, refused)  # every stored wrong take flagged, nothing else
    for digit, short in enumerate(out["progress"]["takes_per_digit"]):  # then say the missing takes
        for take_no in range(18, 18 + 6 - short):
            r = client.post(URL, json=utterance(digit, *take("yweweler", digit, take_no)), headers=auth)
            assert r.status_code == 201, r.text
    assert listed(client, auth)["progress"]["ready"]


# (speaker, prompted digit, digit said instead, for how many of its first prompts): agreeing wrong takes
# of one digit, the case a leave-one-out check cannot see (pairs of digits drawn at random, and the case above).
AGREEING = [
    ("yweweler", 3, 7, 2),
    ("yweweler", 3, 7, 3),
    ("george", 7, 6, 2),
    ("lucas", 0, 8, 2),
    ("jackson", 5, 3, 3),
    ("nicolas", 6, 7, 3),
    ("theo", 8, 2, 3),
]


@pytest.mark.slow
@SQLITE_ONLY
@pytest.mark.parametrize(("speaker", "prompted", "said", "times"), AGREEING)
def test_an_honest_user_with_agreeing_wrong_takes_still_finishes_enrolment(
    registered: tuple[Any, Any], speaker: str, prompted: int, said: int, times: int
) -> None:
    """The general guarantee behind the case above: after the microphone's wrong takes, a user who says
    what is prompted (development takes 6-24, each once; prompted in shuffled rounds over the digits still
    needed, a refused digit asked again at once, as the web client's scheduler does) gets ready, and every
    stored wrong take ends flagged."""
    ctx, user_id = registered
    required = ctx.settings.voice.takes_per_digit
    rng = np.random.default_rng(AGREEING.index((speaker, prompted, said, times)))
    unused = {d: [int(t) for t in rng.permutation(DEV_TAKES)] for d in range(10)}
    prompts, queue, wrong = np.zeros(10, dtype=int), [], set()
    while not enrolment.list_takes(ctx, user_id).progress.ready:
        counts = enrolment.list_takes(ctx, user_id).progress.takes_per_digit
        queue = [d for d in queue if counts[d] < required] or [
            int(d) for d in rng.permutation(10) if counts[d] < required
        ]
        digit = queue.pop(0)
        prompts[digit] += 1
        spoken = said if digit == prompted and prompts[digit] <= times else digit
        assert unused[spoken], (digit, spoken, counts)  # every take of the digit said, and still not ready
        mfcc, energy = take(speaker, spoken, unused[spoken].pop())
        try:
            done = enrolment.enrol(ctx, user_id, DigitFrames(digit, mfcc.astype(np.float32), energy.astype(np.float32)))
        except TakeRejected as exc:
            assert exc.reason == "wrong_digit", exc
            if not queue or queue[0] != digit:
                queue.insert(0, digit)
            continue
        if spoken != digit:
            wrong.add(done.utterance_id)
    flagged = {t.utterance_id for t in enrolment.list_takes(ctx, user_id).utterances if t.suspect}
    assert wrong <= flagged, (wrong, flagged)
