"""The start-up of a `speakerverify serve` process, run by several processes at the same instant.

What ``cmd_serve`` does before it listens: apply the migrations (``cli._migrate``), then the
worker's ``create_app`` and its lifespan start-up (schema check, the shipped UBM's row). Each
worker process is spawned once and runs that sequence on every database in turn, released
together by a barrier per round, so the rounds cost no interpreter starts.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

SECRET = "startup-concurrency-secret-0123456789abcdef"


def _start_once(url: str, data_dir: str) -> None:
    from speakerverify import cli
    from speakerverify.config import settings_from_env
    from speakerverify.http.app import create_app

    cli._migrate(url)
    settings = settings_from_env(
        {"SPEAKERVERIFY_DATA_DIR": data_dir, "SPEAKERVERIFY_SECRET_KEY": SECRET}, database_url=url
    )
    app = create_app(settings)

    async def lifespan() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(lifespan())


def start_up_rounds(barrier: Any, urls: list[str], data_dir: str, results: Any) -> None:
    """For each URL: wait for the other processes, then start up on it; puts (index, error or None)."""
    import speakerverify.http.app  # noqa: F401  (imported before the first barrier: rounds start together)

    for index, url in enumerate(urls):
        barrier.wait(timeout=120)
        try:
            _start_once(url, data_dir)
            results.put((index, None))
        except Exception:
            results.put((index, traceback.format_exc()))
