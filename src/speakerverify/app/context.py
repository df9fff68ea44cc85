"""What every use case needs: settings, the database, password hashing and the voice runtime.

Built once per process, by the HTTP app factory or by an operator command."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..storage.db import Database
from ..voice.runtime import VoiceRuntime
from .security import Passwords


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    passwords: Passwords
    voice: VoiceRuntime
