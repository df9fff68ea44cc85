"""Readers for FSDD-style digit corpora: ``{digit}_{speaker}_{take}.wav``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.(wav|flac)$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Recording:
    speaker: str
    digit: int
    take: int
    path: Path


def read_fsdd(root: str | Path) -> list[Recording]:
    """All recordings under ``root`` (or ``root/recordings``), sorted by speaker, digit, take.

    Raises ``FileNotFoundError`` naming the folder when nothing matches.
    """
    root = Path(root)
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    if not folder.is_dir():
        raise FileNotFoundError(f"{root}: no such corpus folder")
    found = []
    for path in folder.iterdir():
        m = _NAME.match(path.name)
        if m:
            found.append(Recording(m.group(2), int(m.group(1)), int(m.group(3)), path))
    if not found:
        raise FileNotFoundError(f"{folder}: no files named {{digit}}_{{speaker}}_{{take}}.wav")
    return sorted(found)
