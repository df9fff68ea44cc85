"""Relying-party applications: create, list, rotate the secret, delete, authenticate, statistics.

An application authenticates server to server with HTTP Basic ``client_id:client_secret``. The secret is
256 random bits shown once; only its sha256 is stored (a slow password hash protects guessable secrets,
and this one is not guessable), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from ..storage import rp
from ..storage.db import Database
from .errors import InvalidClient, InvalidInput, NotFound

NAME_MAX = 100
MAX_ORIGINS = 20
_DUMMY_SHA256 = hashlib.sha256(b"no such application").hexdigest()


@dataclass(frozen=True)
class Application:
    client_id: str
    name: str
    origins: list[str]
    created_at: datetime | None = None


@dataclass(frozen=True)
class NewCredentials:
    """What ``apps create`` and ``apps rotate-secret`` print once."""

    client_id: str
    client_secret: str
    name: str
    origins: list[str]


@dataclass(frozen=True)
class Caller:
    """An authenticated application."""

    app_id: uuid.UUID
    client_id: str
    origins: tuple[str, ...]


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin``; anything else is refused."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{origin!r} is not an origin like https://app.example", kind="invalid-origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{origin!r}: an origin has no path, query or credentials", kind="invalid-origin")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def _check(name: str, origins: list[str]) -> tuple[str, list[str]]:
    name = name.strip()
    if not 0 < len(name) <= NAME_MAX:
        raise InvalidInput(f"an application name has 1-{NAME_MAX} characters", kind="invalid-application")
    if not 0 < len(origins) <= MAX_ORIGINS:
        raise InvalidInput(f"give 1-{MAX_ORIGINS} origins (--origin https://app.example)", kind="invalid-origin")
    return name, sorted({normalise_origin(o) for o in origins})


def create(db: Database, name: str, origins: list[str]) -> NewCredentials:
    name, clean = _check(name, origins)
    client_id = "app_" + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    with db.write_session() as session:
        rp.add_application(session, client_id, name, _sha256(secret), clean)
    return NewCredentials(client_id, secret, name, clean)


def list_all(db: Database) -> list[Application]:
    with db.read_session() as session:
        return [Application(a.client_id, a.name, list(a.origins), a.created_at) for a in rp.list_applications(session)]


def rotate_secret(db: Database, client_id: str) -> NewCredentials:
    """A new secret; the old one stops working at once (sessions already issued keep running out)."""
    secret = secrets.token_urlsafe(32)
    with db.write_session() as session:
        app = rp.find_application(session, client_id)
        if app is None:
            raise NotFound(f"no application with client_id {client_id!r}")
        app.secret_sha256 = _sha256(secret)
        return NewCredentials(app.client_id, secret, app.name, list(app.origins))


def delete(db: Database, client_id: str) -> None:
    """Erase the application, its subjects and all their voice data, sessions and results."""
    with db.write_session() as session:
        app = rp.find_application(session, client_id)
        if app is None:
            raise NotFound(f"no application with client_id {client_id!r}")
        rp.delete_application(session, app.id)


def authenticate(db: Database, client_id: str, client_secret: str) -> Caller:
    """The application these Basic credentials belong to; ``InvalidClient`` otherwise (same work either way)."""
    with db.read_session() as session:
        app = rp.find_application(session, client_id) if len(client_id) <= 64 else None
        expected = app.secret_sha256 if app is not None else _DUMMY_SHA256
        ok = hmac.compare_digest(expected, _sha256(client_secret))
        if app is None or not ok:
            raise InvalidClient()
        return Caller(app.id, app.client_id, tuple(app.origins))


@dataclass(frozen=True)
class Stats:
    client_id: str
    name: str
    subjects: int
    sessions: int
    accepts: int
    rejects: int
    locks: int


def stats(db: Database) -> list[Stats]:
    """Per application: subjects, sessions issued, accepted and rejected verifications, locks imposed."""
    with db.read_session() as session:
        out = []
        for app in rp.list_applications(session):
            s = rp.application_stats(session, app.id)
            out.append(Stats(app.client_id, app.name, s.subjects, app.sessions_created, s.accepts, s.rejects, s.locks))
        return out


def registered_origins(db: Database) -> set[str]:
    """Every origin some application allows: CORS preflights from these are answered."""
    with db.read_session() as session:
        return rp.all_origins(session)
