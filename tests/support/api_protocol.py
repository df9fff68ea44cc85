"""The FSDD verification protocol run against the real HTTP API, as a client would.

Every speaker registers and enrols takes 0-5 of every digit (raw Meyda frames from
the Python extractor). Then, per speaker, genuine challenges are answered with the
speaker's own takes 25-49 of the prompted digits, impostor challenges with other
speakers' takes of the prompted digits, and wrong-content challenges with the
speaker's own takes of other digits than prompted. No take is ever sent to the same
account twice (so replay defences cannot interfere); when a speaker's takes 25-49 of
a digit run out, its unused takes 6-24 are used.

The API answers decisions and reasons only (no scores), so FAR and FRR are counted from decisions; score
based figures (EER) come from the audit log, e.g. ``speakerverify eer`` or ``speakerverify attempts list``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from speakerverify.evaluation.corpus import read_fsdd
from speakerverify.evaluation.noise import mix
from speakerverify.features import DEFAULT_CONFIG, extract, read_audio, wire

PASSWORD = "fsdd-protocol-password"
GENUINE_TAKES = tuple(range(25, 50))
SPARE_TAKES = tuple(range(6, 25))
ENROL_TAKES = tuple(range(0, 6))

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
FORMS = ("json", "b64", "binary")  # request forms: JSON numbers, base64 float32 in JSON, the binary body


def features_payload(mfcc: np.ndarray, energy: np.ndarray, form: str = "b64") -> dict[str, Any]:
    """The API's feature fields: ``json`` numbers or the compact ``b64`` float32 form."""
    if form == "json":
        return {"mfcc": np.asarray(mfcc).tolist(), "energy": np.asarray(energy).tolist()}
    return {
        "mfcc_b64": base64.b64encode(np.asarray(mfcc, dtype="<f4").tobytes()).decode(),
        "energy_b64": base64.b64encode(np.asarray(energy, dtype="<f4").tobytes()).decode(),
    }


class ApiClient:
    """The calls a client makes, one account at a time; errors raise with the server's problem text.

    ``form`` is how features are sent (``FORMS``): ``json`` numbers, ``b64`` (compact float32 in JSON,
    the default) or ``binary`` (``application/vnd.speakerverify.frames``, features/wire.py).
    """

    def __init__(self, http: httpx.Client, form: str = "b64") -> None:
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, not {form!r}")
        self.http = http
        self.form = form

    def _ok(self, response: httpx.Response, *expected: int) -> Any:
        if response.status_code not in expected:
            raise RuntimeError(
                f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def register_and_login(self, email: str, alias: str) -> dict[str, str]:
        body = {"email": email, "password": PASSWORD, "alias": alias, "consent": True}
        self._ok(self.http.post("/api/v1/users", json=body), 201)
        token = self._ok(self.http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD}), 201)
        return {"Authorization": f"Bearer {token['access_token']}"}

    def enrol(self, auth: dict[str, str], digit: int, mfcc: np.ndarray, energy: np.ndarray) -> httpx.Response:
        """One take, mfcc (T, n_mfcc) and energy (T,), in this client's form; the response as it came."""
        url = "/api/v1/enrolment/utterances"
        if self.form == "binary":
            raw = wire.encode_take(mfcc, energy, DEFAULT_CONFIG.config_id, digit)
            return self.http.post(url, content=raw, headers={**auth, "Content-Type": wire.CONTENT_TYPE})
        body = {"config_id": DEFAULT_CONFIG.config_id, "digit": digit, **features_payload(mfcc, energy, self.form)}
        return self.http.post(url, json=body, headers=auth)

    def segment(self, digit: int, mfcc: np.ndarray, energy: np.ndarray) -> dict[str, Any]:
        """One answer segment for ``verify``: the JSON segment of this form, or the arrays for ``binary``."""
        if self.form == "binary":
            return {"digit": digit, "mfcc": mfcc, "energy": energy}
        return {"digit": digit, **features_payload(mfcc, energy, self.form)}

    def challenge(self, auth: dict[str, str]) -> dict[str, Any]:
        return dict(self._ok(self.http.post("/api/v1/challenges", headers=auth), 201))

    def verify(self, auth: dict[str, str], challenge_id: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer a challenge with ``segments`` (from ``segment``; for json/b64 any JSON segments do)."""
        url = "/api/v1/verifications"
        if self.form == "binary":
            if not all("mfcc" in s and "energy" in s for s in segments):
                raise ValueError("the binary form needs segments with mfcc and energy arrays (ApiClient.segment)")
            raw = wire.encode_answer(challenge_id, [(s["digit"], s["mfcc"], s["energy"]) for s in segments])
            headers = {**auth, "Content-Type": wire.CONTENT_TYPE}
            return dict(self._ok(self.http.post(url, content=raw, headers=headers), 200))
        body = {"challenge_id": challenge_id, "segments": segments}
        return dict(self._ok(self.http.post(url, json=body, headers=auth), 200))


@dataclass
class ApiProtocolResult:
    target_accepted: list[bool] = field(default_factory=list)
    impostor_accepted: list[bool] = field(default_factory=list)
    wrong_digit_accepted: list[bool] = field(default_factory=list)
    wrong_digit_flagged: list[bool] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    enrol_rejected: list[str] = field(default_factory=list)
    enrol_said_again: list[str] = field(default_factory=list)
    attempt_ids: list[int] = field(default_factory=list)
    spare_takes_used: int = 0

    @property
    def far(self) -> float:
        return float(np.mean(self.impostor_accepted))

    @property
    def frr(self) -> float:
        return 1.0 - float(np.mean(self.target_accepted))

    def summary(self) -> dict[str, Any]:
        return {
            "target_trials": len(self.target_accepted),
            "impostor_trials": len(self.impostor_accepted),
            "far_percent": round(100 * self.far, 3),
            "frr_percent": round(100 * self.frr, 3),
            "wrong_digit_trials": len(self.wrong_digit_accepted),
            "wrong_digit_accepted": int(np.sum(self.wrong_digit_accepted)),
            "reasons": dict(sorted(self.reasons.items())),
            "enrol_rejected": len(self.enrol_rejected),
            "spare_takes_used": self.spare_takes_used,
        }


def _no_progress(it: Iterable[Any], desc: str, total: int) -> Iterable[Any]:
    return it


def run(
    http: httpx.Client,
    corpus: str,
    genuine: int = 50,
    impostor: int = 250,
    wrong_digit: int = 5,
    seed: int = 0,
    progress: Progress = _no_progress,
    form: str = "b64",
    noise: tuple[str, float] | None = None,
    babble_root: str | None = None,
    database_url: str | None = None,
) -> ApiProtocolResult:
    """Register, enrol and verify every speaker of an FSDD-style corpus through the API at ``http``,
    sending features in ``form`` (see ApiClient). ``noise`` (kind, SNR dB): mixed into every answer's audio
    (``evaluation.noise.mix``, before feature extraction), enrolment stays clean; ``babble_root`` is the
    speechocean762-8k folder babble needs. ``database_url`` (the server's database): after enrolment,
    wait for the deployment's first threshold, which the server computes in the background while the
    provisional one serves (``wait_for_threshold``), so every answer is decided at the deployment's own."""
    recs = read_fsdd(corpus)
    speakers = sorted({r.speaker for r in recs})
    wanted = [r for r in recs if r.take < 50]

    def audio(r: Any) -> np.ndarray:
        x = read_audio(r.path)
        if noise is None or r.take in ENROL_TAKES:
            return x
        return mix(x, noise[0], noise[1], r.path.name, babble_root)

    feats = {(r.speaker, r.digit, r.take): extract(audio(r)) for r in progress(wanted, "features", len(wanted))}
    by_key = {(r.speaker, r.digit, r.take): r for r in wanted}

    def enrolment_take(key: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Enrolment is clean: a spare take said again in place of a refused one is sent without the noise."""
        return feats[key] if noise is None or key[2] in ENROL_TAKES else extract(read_audio(by_key[key].path))

    api = ApiClient(http, form)
    rng = np.random.default_rng(seed)
    result = ApiProtocolResult()
    auth: dict[str, dict[str, str]] = {}
    for spk in speakers:
        auth[spk] = api.register_and_login(f"{spk}@fsdd.example.org", f"fsdd-{spk}"[:32])
    enrol_jobs = [(s, d, t) for s in speakers for t in ENROL_TAKES for d in range(10)]
    said_again: list[tuple[str, int, int]] = []  # a genuine take refused as wrong_digit: said again, as a user would
    for spk, digit, take in progress(enrol_jobs, "enrol", len(enrol_jobs)):
        response = api.enrol(auth[spk], digit, *enrolment_take((spk, digit, take)))
        spare = iter(reversed(SPARE_TAKES))
        while response.status_code == 422 and response.json().get("reason") == "wrong_digit":
            result.enrol_said_again.append(f"{spk} {digit} take {take}")
            take = next(spare)
            said_again.append((spk, digit, take))
            response = api.enrol(auth[spk], digit, *enrolment_take((spk, digit, take)))
        if response.status_code != 201:
            result.enrol_rejected.append(f"{spk} {digit} take {take}: {response.status_code} {response.text}")

    if database_url is not None:
        api.challenge(auth[speakers[0]])  # the first challenge of a ready deployment queues its threshold
        wait_for_threshold(database_url)
    sent: dict[str, set[tuple[str, int, int]]] = {s: set() for s in speakers}
    for key in said_again:  # enrolled now: never sent as an answer (it would be a replay)
        sent[key[0]].add(key)

    def pick(account: str, speaker: str, digit: int, pools: tuple[tuple[int, ...], ...]) -> tuple[str, int, int]:
        for pool in pools:
            free = [t for t in pool if (speaker, digit, t) not in sent[account]]
            if free:
                if pool is SPARE_TAKES:
                    result.spare_takes_used += 1
                key = (speaker, digit, int(rng.choice(free)))
                sent[account].add(key)
                return key
        raise RuntimeError(f"no unsent take of {speaker} digit {digit} left for {account}")

    jobs = [
        (s, kind)
        for s in speakers
        for kind in ["genuine"] * genuine + ["impostor"] * impostor + ["wrong"] * wrong_digit
    ]
    for spk, kind in progress(jobs, "verify", len(jobs)):
        ch = api.challenge(auth[spk])
        digits = [int(d) for d in ch["digits"]]
        if kind == "genuine":
            keys = [pick(spk, spk, d, (GENUINE_TAKES, SPARE_TAKES)) for d in digits]
        elif kind == "impostor":
            other = speakers[int(rng.choice([j for j, s in enumerate(speakers) if s != spk]))]
            keys = [pick(spk, other, d, (GENUINE_TAKES + SPARE_TAKES,)) for d in digits]
        else:
            spoken = [(d + 1 + int(rng.integers(0, 9))) % 10 for d in digits]  # any digit but the prompted one
            keys = [pick(spk, spk, d, (GENUINE_TAKES, SPARE_TAKES)) for d in spoken]
        segments = [api.segment(d, *feats[k]) for k, d in zip(keys, digits, strict=True)]
        out = api.verify(auth[spk], ch["challenge_id"], segments)
        result.attempt_ids.append(int(out["attempt_id"]))
        result.reasons[out["reason"]] = result.reasons.get(out["reason"], 0) + 1
        accepted = out["decision"] == "accept"
        if kind == "genuine":
            result.target_accepted.append(accepted)
        elif kind == "impostor":
            result.impostor_accepted.append(accepted)
        else:
            result.wrong_digit_accepted.append(accepted)
            result.wrong_digit_flagged.append(out["reason"] == "digits_not_matched")
    return result


def wait_for_threshold(database_url: str, timeout: float = 900.0) -> float:
    """Seconds until the deployment threshold for the default challenge length is stored in the database
    at ``database_url`` (the pooled users' own calibrations are stored before it)."""
    from speakerverify.config import VoicePolicy
    from speakerverify.storage import calibrations
    from speakerverify.storage.db import Database

    db = Database(database_url)
    t0 = time.monotonic()
    try:
        while True:
            with db.read_session() as session:
                if calibrations.get_threshold(session, VoicePolicy.challenge_digits) is not None:
                    return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"no deployment threshold in {timeout:.0f} s")
            time.sleep(0.5)
    finally:
        db.dispose()
