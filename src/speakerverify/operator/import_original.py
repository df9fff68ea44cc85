"""``speakerverify import-original``: move the 2020 demo's MongoDB ``userdata`` collection in.

Reads a ``mongoexport`` file (JSON lines or a JSON array, extended JSON allowed) or a ``mongodump``
``.bson`` file with pymongo's ``bson`` module; no MongoDB server is needed.

* ``gmmPickleStore`` (a pickled scikit-learn model) is dropped unread: unpickling is code execution.
* Accounts arrive without a password (the demo had none): the stored hash is a marker no password
  matches, until an operator runs ``speakerverify users set-password EMAIL``.
* trainLog / scoreLog features were computed at the browser's native rate with Meyda's defaults:
  they go to ``legacy_takes`` under the ``meyda-legacy-native-v0`` feature-config id, never to the
  ``utterances`` that feed 8 kHz models and enrolment progress.
* Idempotent: accounts are matched by email and log entries by a fingerprint of their content,
  so importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import numpy as np
from sqlalchemy import select

from ..app.accounts import AgeGroup, Gender, normalise_email
from ..config import Settings
from ..storage import users
from ..storage.arrays import encode_f32
from ..storage.tables import ALIAS_MAX, LegacyAccount, LegacyTake, User
from .common import OperatorError, open_database, progress
from .users import UNUSABLE_PASSWORD

LEGACY_CONFIG_ID = "meyda-legacy-native-v0"
LEGACY_STATEMENT = "original-2020"  # the consent they gave was to the demo's data statement
DROPPED = ("gmmPickleStore",)
LOGS = ("trainLog", "scoreLog")
_ALIAS_BAD = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class ImportSummary:
    documents: int = 0
    users_created: int = 0
    users_existing: int = 0
    takes_added: int = 0
    takes_present: int = 0
    skipped: list[str] = field(default_factory=list)


def read_documents(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of a mongoexport JSON (lines or array) or mongodump BSON file."""
    try:
        from bson import decode_file_iter, json_util
        from bson.errors import BSONError
    except ImportError:  # pragma: no cover - a dependency of the package
        raise OperatorError("pymongo is not installed (pip install pymongo)") from None
    if not path.is_file():
        raise OperatorError(f"{path}: no such file")
    with path.open("rb") as fh:
        head = fh.read(64).lstrip()
    if head[:1] in (b"[", b"{"):
        text = path.read_text(encoding="utf-8")
        try:
            if head[:1] == b"[":
                docs = json_util.loads(text)
            else:
                docs = [json_util.loads(line) for line in text.splitlines() if line.strip()]
        except (ValueError, TypeError) as exc:
            raise OperatorError(f"{path}: not valid mongoexport JSON: {exc}") from None
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise OperatorError(f"{path}: expected JSON objects (one per line) or an array of them")
        yield from docs
        return
    with path.open("rb") as fh:
        try:
            yield from decode_file_iter(fh)
        except (BSONError, ValueError) as exc:
            raise OperatorError(f"{path}: not a mongodump BSON file: {exc}") from None


def _plain(value: Any) -> Any:
    """BSON values (ObjectId, dates, ...) as plain JSON (relaxed extended JSON)."""
    from bson import json_util

    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()[:limit]
    plain = _plain(value)
    return (plain if isinstance(plain, str) else json.dumps(plain, sort_keys=True))[:limit]


def _entry(raw: Any) -> tuple[int | None, np.ndarray, np.ndarray, Any, Any]:
    """(digit, mfcc (T, n), energy (T,), timestamp, session) of one log entry; ValueError if unusable."""
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    data = raw.get("data", raw)
    if not isinstance(data, dict):
        raise ValueError("no data object")
    mfcc = np.asarray(data.get("mfcc"), dtype=np.float64)
    energy = np.asarray(data.get("energy"), dtype=np.float64)
    if mfcc.ndim != 2 or mfcc.shape[0] == 0 or energy.shape != (mfcc.shape[0],):
        raise ValueError(f"mfcc {mfcc.shape} and energy {energy.shape} do not describe T frames")
    if not (np.all(np.isfinite(mfcc)) and np.all(np.isfinite(energy))):
        raise ValueError("non-finite feature values")
    digit_raw = data.get("digit")
    digit = int(digit_raw) if digit_raw is not None and str(digit_raw).strip().isdigit() else None
    if digit is not None and not 0 <= digit <= 9:
        digit = None
    return digit, mfcc, energy, raw.get("timestamp"), raw.get("session")


def _fingerprint(source: str, digit: int | None, mfcc: np.ndarray, energy: np.ndarray, ts: Any, sess: Any) -> str:
    h = hashlib.sha256()
    h.update(f"{source}|{digit}|{_text(ts, 64)}|{_text(sess, 128)}|{mfcc.shape}|".encode())
    h.update(encode_f32(mfcc))
    h.update(encode_f32(energy))
    return h.hexdigest()


def _gender(value: Any) -> str | None:
    v = str(value or "").strip().lower().replace(" ", "-").replace("nonbinary", "non-binary")
    return v if v in get_args(Gender) else None


def _age(value: Any) -> str | None:
    v = str(value or "").strip().replace(" ", "")
    return v if v in get_args(AgeGroup) else None


def _alias(session: Any, wanted: Any, fallback: str) -> str:
    base = _ALIAS_BAD.sub("_", str(wanted or "")).strip("_.-")
    if len(base) < 3:
        base = fallback
    base = base[: ALIAS_MAX - 4]
    alias, n = base, 1
    while session.scalar(select(User.id).where(User.alias_key == users.alias_key(alias))) is not None:
        n += 1
        alias = f"{base}-{n}"
    return alias


_Entry = tuple[str, int, int | None, np.ndarray, np.ndarray, Any, Any]


def _entries(doc: dict[str, Any], email: str, summary: ImportSummary) -> list[_Entry]:
    """Every usable take of one document's logs; the unusable ones are reported in ``summary``."""
    entries: list[_Entry] = []
    for source in LOGS:
        log = doc.get(source) or []
        if not isinstance(log, list):
            summary.skipped.append(f"{email}: {source} is not a list")
            continue
        for position, raw in enumerate(log):
            try:
                digit, mfcc, energy, ts, sess = _entry(raw)
            except (ValueError, TypeError) as exc:
                summary.skipped.append(f"{email}: {source}[{position}]: {exc}")
                continue
            entries.append((source, position, digit, mfcc, energy, ts, sess))
    return entries


def _new_account(session: Any, doc: dict[str, Any], email: str) -> User:
    """An account for a document whose email is not registered yet, with its legacy fields kept aside."""
    demographic: dict[str, Any] = doc.get("demographic") or {}
    if not isinstance(demographic, dict):
        demographic = {}
    fallback_alias = f"legacy-{hashlib.sha256(email.encode()).hexdigest()[:8]}"
    legacy_id = _text(doc.get("userId", doc.get("_id")), 64)
    user = users.create_user(
        session,
        users.NewUser(
            email=email,
            password_hash=UNUSABLE_PASSWORD,
            alias=_alias(session, doc.get("alias"), fallback_alias),
            gender=_gender(demographic.get("gender")),
            age_group=_age(demographic.get("age", demographic.get("age_group"))),
            data_statement_version=LEGACY_STATEMENT,
        ),
    )
    kept = {k: v for k, v in doc.items() if k not in (*DROPPED, *LOGS)}
    document = _plain(kept)
    document["dropped_fields"] = [k for k in DROPPED if k in doc]
    session.add(LegacyAccount(user_id=user.id, legacy_user_id=legacy_id, document=document))
    return user


def _add_takes(session: Any, user: User, entries: list[_Entry], summary: ImportSummary) -> None:
    """The entries not imported before (by fingerprint), as legacy takes."""
    present = set(session.scalars(select(LegacyTake.fingerprint).where(LegacyTake.user_id == user.id)))
    for source, position, digit, mfcc, energy, ts, sess in entries:
        fp = _fingerprint(source, digit, mfcc, energy, ts, sess)
        if fp in present:
            summary.takes_present += 1
            continue
        present.add(fp)
        session.add(
            LegacyTake(
                user_id=user.id,
                source=source,
                position=position,
                fingerprint=fp,
                config_id=LEGACY_CONFIG_ID,
                digit=digit,
                recorded_at=_text(ts, 64),
                session=_text(sess, 128),
                n_frames=int(mfcc.shape[0]),
                n_mfcc=int(mfcc.shape[1]),
                mfcc=encode_f32(mfcc),
                energy=encode_f32(energy),
            )
        )
        summary.takes_added += 1


def import_original(settings: Settings, path: Path) -> ImportSummary:
    summary = ImportSummary()
    docs = list(read_documents(path))
    with open_database(settings, upgrade=True) as db:
        for index, doc in enumerate(progress(docs, "accounts", len(docs), "user")):
            summary.documents += 1
            email = normalise_email(str(doc.get("email") or ""))
            if "@" not in email or len(email) > 254:
                summary.skipped.append(f"document {index}: no usable email ({doc.get('email')!r})")
                continue
            entries = _entries(doc, email, summary)
            with db.write_session() as session:
                user = users.find_by_email(session, email)
                if user is None:
                    user = _new_account(session, doc, email)
                    summary.users_created += 1
                else:
                    summary.users_existing += 1
                _add_takes(session, user, entries, summary)
    return summary
