"""What every use case needs: settings, the database, password hashing and the voice runtime.

Built once per process, by the HTTP app factory or by an operator command."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Settings
from ..storage.db import Database
from ..voice.runtime import VoiceRuntime
from .background import Background, Child
from .security import Passwords


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    passwords: Passwords
    voice: VoiceRuntime
    # Per process: the calibration recomputations requests queue instead of waiting for them.
    background: Background = field(default_factory=Background)
    # The process the background's calibration jobs run in (``Settings.calibration_process``), started at the first.
    child: Child = field(default_factory=Child)
