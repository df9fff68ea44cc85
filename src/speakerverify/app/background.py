"""Work a request asks for but must not wait for: one worker thread per process running keyed jobs.

Used by calibration: when the population or a user's model changes, the stored calibration keeps serving
and its recomputation is queued here. A job whose key is already queued is not queued again, so a burst
of requests that all find the same thing stale costs one recomputation. A failed job is logged and
dropped; the next request that finds the same thing stale queues it again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

log = logging.getLogger("speakerverify.background")


class Background:
    """A queue of keyed jobs and the daemon thread that runs them, started at the first job."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[Hashable, Callable[[], object]] = OrderedDict()
        self._cv = threading.Condition()
        self._running: set[Hashable] = set()  # keys of jobs taken off the queue and not finished yet
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, job: Callable[[], object]) -> None:
        """Queue ``job`` unless a job with ``key`` is already queued (it is not run twice)."""
        with self._cv:
            if key in self._jobs or key in self._running:  # one running finds the same data: not needed twice
                return
            self._jobs[key] = job
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="speakerverify-background", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued or running (operators and tests); False if ``timeout`` passed first."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._jobs and not self._running, timeout)

    def _work(self) -> None:
        while True:
            with self._cv:
                if not self._cv.wait_for(lambda: bool(self._jobs), timeout=30.0):
                    self._thread = None  # idle: the next submit starts a fresh thread
                    return
                key, job = self._jobs.popitem(last=False)
                self._running.add(key)
            try:
                job()
            except Exception:  # a background job must never kill the thread that runs the others
                log.exception("background job failed")
            finally:
                with self._cv:
                    self._running.discard(key)
                    self._cv.notify_all()
