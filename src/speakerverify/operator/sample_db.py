"""``speakerverify sample-db``: a sample deployment from an FSDD-style corpus, built through the service's code.

Every speaker becomes a user (random password, consent recorded, including consent to train the
background model: FSDD is CC BY-SA 4.0) and is enrolled with takes ``0 .. takes-1`` of every digit
exactly as the API would enrol them (same quality checks), so later takes stay held out.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..app import accounts, enrolment
from ..app.context import AppContext
from ..app.errors import DomainError
from ..app.frames import DigitFrames, check_frames
from ..config import Settings
from ..evaluation.corpus import Recording, read_fsdd
from ..features import AudioError, extract, read_audio
from ..storage import users
from .common import OperatorError, make_context, open_database, progress

EMAIL_DOMAIN = "sample.invalid"  # RFC 2606: can never be a real mailbox
MAX_TAKE = 24  # stand-in takes for rejected ones come from 6-24 (the corpus's development range), never 25+


@dataclass
class SampleUser:
    email: str
    alias: str
    password: str
    enrolled: int = 0
    rejected: list[str] = field(default_factory=list)
    ready: bool = False


def build_sample_db(settings: Settings, corpus: Path, speakers: int | None = None) -> list[SampleUser]:
    try:
        recordings = read_fsdd(corpus)
    except FileNotFoundError as exc:
        raise OperatorError(str(exc)) from None
    by_speaker: dict[str, list[Recording]] = defaultdict(list)
    for rec in recordings:
        by_speaker[rec.speaker].append(rec)
    names = sorted(by_speaker)
    if speakers is not None:
        if speakers < 1:
            raise OperatorError("--speakers must be at least 1")
        names = names[:speakers]
    takes = settings.voice.takes_per_digit
    created: list[SampleUser] = []
    with open_database(settings, upgrade=True) as db:
        ctx = make_context(settings, db)
        with db.read_session() as session:
            for name in names:
                if users.find_by_email(session, f"{name.lower()}@{EMAIL_DOMAIN}") is not None:
                    raise OperatorError(f"{name.lower()}@{EMAIL_DOMAIN} is already registered: use a fresh database")
        for name in progress(names, "speakers", len(names), "speaker"):
            sample = SampleUser(f"{name.lower()}@{EMAIL_DOMAIN}", _alias(name), secrets.token_urlsafe(12))
            try:
                profile = accounts.register(
                    ctx,
                    accounts.NewAccount(email=sample.email, password=sample.password, alias=sample.alias),
                )
            except DomainError as exc:
                raise OperatorError(f"cannot register {name}: {exc}") from None
            user_id = uuid.UUID(profile.id)
            with db.write_session() as session:
                users.set_consent_model_training(session, user_id, True)
            by_digit: dict[int, list[Recording]] = defaultdict(list)
            for rec in by_speaker[name]:
                if rec.take <= MAX_TAKE:
                    by_digit[rec.digit].append(rec)
            for digit in sorted(by_digit):
                accepted = 0
                for rec in sorted(by_digit[digit], key=lambda r: r.take):
                    if accepted >= takes:
                        break
                    if _enrol(ctx, user_id, rec, sample):
                        accepted += 1
            sample.ready = enrolment.list_takes(ctx, user_id).progress.ready
            created.append(sample)
    return created


def _alias(name: str) -> str:
    alias = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    return alias if len(alias) >= 3 else (alias + "___")[:3]


def _enrol(ctx: AppContext, user_id: uuid.UUID, rec: Recording, sample: SampleUser) -> bool:
    try:
        mfcc, energy = extract(read_audio(rec.path))
    except AudioError as exc:
        sample.rejected.append(f"{rec.path.name}: {exc}")
        return False
    try:  # validated as the API would, so a sample take is held to the same checks
        frames = check_frames(mfcc, energy, ctx.settings.voice, [])
        enrolment.enrol(ctx, user_id, DigitFrames(rec.digit, *frames))
    except DomainError as exc:
        sample.rejected.append(f"{rec.path.name}: {exc}")
        return False
    sample.enrolled += 1
    return True
