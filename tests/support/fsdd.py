"""FSDD takes as API request bodies: the helpers the in-process API tests share."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from speakerverify.features import DEFAULT_CONFIG, extract, read_audio

from .api_protocol import features_payload
from .shared_data import require_fsdd


@cache
def take(speaker: str, digit: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mfcc, energy) of FSDD recording ``{digit}_{speaker}_{n}.wav``; skips (fails under CI) without FSDD."""
    return extract(read_audio(require_fsdd() / "recordings" / f"{digit}_{speaker}_{n}.wav"))


def utterance(digit: int, mfcc: Any, energy: Any, **extra: Any) -> dict[str, Any]:
    return {"config_id": DEFAULT_CONFIG.config_id, "digit": digit, **features_payload(mfcc, energy, "json"), **extra}


def enrol_speaker(client: TestClient, auth: dict[str, str], speaker: str) -> None:
    """Takes 0-5 of every digit; a genuine take refused as ``wrong_digit`` (about 1 in 100) is said again
    with a spare take (24, 23, ...; never one of the answer takes 25-49), as a user would."""
    for n in range(6):
        for digit in range(10):
            for attempt in (n, *range(24, 5, -1)):
                r = client.post(
                    "/api/v1/enrolment/utterances", json=utterance(digit, *take(speaker, digit, attempt)), headers=auth
                )
                if r.status_code != 422 or r.json().get("reason") != "wrong_digit":
                    break
            assert r.status_code == 201, r.text


def segments_for(speaker: str, digits: list[int], takes: int = 30, spoken: list[int] | None = None) -> list[dict]:
    """One segment per prompted digit, labelled with it; ``spoken`` gives the digits actually said."""
    spoken = spoken or digits
    return [{"digit": d, **features_payload(*take(speaker, s, takes))} for d, s in zip(digits, spoken, strict=True)]
