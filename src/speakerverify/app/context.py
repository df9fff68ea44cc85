"""What every request handler needs, created once per process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

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


def get_context(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx
