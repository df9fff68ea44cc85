"""``speakerverify apps ...`` and ``speakerverify keys rotate``: relying-party applications and signing keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

from ..app import applications, signing
from ..app.errors import DomainError
from ..config import Settings
from .common import OperatorError, jsonable, open_database

T = TypeVar("T")
STATS_COLUMNS = ["client_id", "name", "subjects", "sessions", "accepts", "rejects", "locks"]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        raise OperatorError(exc.message) from None


def _run(settings: Settings, use: Callable[[Any], T]) -> T:
    with open_database(settings) as db, _refusals():
        return use(db)


def create(settings: Settings, name: str, origins: list[str]) -> dict[str, Any]:
    return asdict(_run(settings, lambda db: applications.create(db, name, origins)))


def rotate_secret(settings: Settings, client_id: str) -> dict[str, Any]:
    return asdict(_run(settings, lambda db: applications.rotate_secret(db, client_id)))


def delete(settings: Settings, client_id: str) -> None:
    _run(settings, lambda db: applications.delete(db, client_id))


def list_apps(settings: Settings) -> list[dict[str, Any]]:
    apps = _run(settings, applications.list_all)
    return [{k: jsonable(v) for k, v in asdict(a).items()} for a in apps]


def stats(settings: Settings) -> list[dict[str, Any]]:
    return [asdict(s) for s in _run(settings, applications.stats)]


def rotate_key(settings: Settings) -> tuple[str, int]:
    return _run(settings, lambda db: signing.rotate(db, settings))


def format_credentials(creds: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(creds) + "\n"
    return (
        f"client_id:     {creds['client_id']}\n"
        f"client_secret: {creds['client_secret']}\n"
        f"name:          {creds['name']}\n"
        f"origins:       {' '.join(creds['origins'])}\n"
        "The secret is shown only now (only its hash is stored); keep it on the application's server.\n"
    )


def format_rows(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> str:
    if as_json:
        return json.dumps(rows, indent=1) + "\n"
    cell = [[" ".join(v) if isinstance(v := r[c], list) else str(v) for c in columns] for r in rows]
    table = [columns, *cell]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in table)
