"""Work a request asks for but must not wait for: one worker thread per process running keyed jobs.

Used by calibration: when the population or a user's model changes, the stored calibration keeps serving
and its recomputation is queued here. A job whose key is already queued is not queued again, so a burst
of requests that all find the same thing stale costs one recomputation. A failed job is logged and
dropped; the next request that finds the same thing stale queues it again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger("speakerverify.background")
# Each job's kind and wall time, and "idle" when the queue empties (shown with SPEAKERVERIFY_TIMING_LOG).
timing = logging.getLogger("speakerverify.timing.background")
T = TypeVar("T")


class StopJob(Exception):
    """Raised by a job that cannot go on and has said why in the log: dropped without a traceback."""


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
            timing.info("queued job=%s", key[0] if isinstance(key, tuple) and key else type(key).__name__)
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
            t0, status = time.perf_counter(), "ok"
            try:
                job()
            except StopJob:
                status = "stopped"
            except Exception:  # a background job must never kill the thread that runs the others
                status = "failed"
                log.exception("background job failed")
            finally:
                with self._cv:
                    self._running.discard(key)
                    left = len(self._jobs) + len(self._running)
                    self._cv.notify_all()
                kind = key[0] if isinstance(key, tuple) and key else type(key).__name__
                timing.info("job=%s ms=%.0f status=%s queued=%d", kind, (time.perf_counter() - t0) * 1000, status, left)
                if not left:
                    timing.info("idle")


class Child:
    """One spawned worker process, started at the first call, running module-level functions for the
    background thread: CPU-heavy jobs there hold their own interpreter's GIL, not the serving process's
    (on one interpreter every request waits behind them, up to a switch interval at each GIL hand-off),
    and the process runs at a lower priority (``CHILD_NICENESS``), so requests get the cores first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the child (both picklable), waited for; a dead child is replaced at the next call."""
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads and connections
                self._pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_child_start, initargs=(os.getpid(),))
            pool = self._pool
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            raise

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


CHILD_NICENESS = 10  # added to the child's niceness: its work waits for the serving process's requests


def _child_start(parent: int) -> None:
    """In the child: a lower priority, and an exit as soon as the serving process ``parent`` is gone
    (killed, or exited while the child started): an orphan would go on computing for nobody."""
    os.nice(CHILD_NICENESS)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="speakerverify-parent-watch", daemon=True).start()
