"""Where a request's time goes, for operators and ``benchmarks/perf_growth.py`` (``SPEAKERVERIFY_TIMING_LOG``).

With the setting on, each timed use case (``request``) writes one line to the server's log (stderr):

    speakerverify.timing op=challenge total_ms=12.3 calibration_ms=0.8 model_ms=0.4 status=ok

``calibration_ms``: wall time spent obtaining the calibration (``app.calibration``: reads, and any
computation the request waits for); ``model_ms``: reading the user's model (its derivation from the takes
on a cache miss). The background's jobs are logged too (``background ... ms=``, and ``background idle``
when its queue empties), so a benchmark can tell when the server's queued work has finished. Nothing here
is returned to a claimant: the lines name no user, score or threshold.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .context import AppContext

log = logging.getLogger("speakerverify.timing")
KINDS = ("calibration", "model")  # what a line reports, in this order (0 when the request did none)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Spent:
    ms: dict[str, float] = field(default_factory=dict)
    open: set[str] = field(default_factory=set)  # kinds being timed now: a nested section is not counted twice


_current: ContextVar[_Spent | None] = ContextVar("speakerverify_timing", default=None)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the ``sys.stderr`` of the moment, not the one at import: a stream swapped since (a test
    run's capture, closed when it ends) would turn every later line into a logging error."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # under the handler's lock (``Handler.handle``)
        super().emit(record)


_stderr = _Stderr()
_stderr.setFormatter(logging.Formatter("%(name)s %(message)s"))


def enable() -> None:
    """Send the timing lines (``speakerverify.timing`` and its children) to stderr; idempotent."""
    if _stderr not in log.handlers:
        log.addHandler(_stderr)
        log.setLevel(logging.INFO)
        log.propagate = False


@contextmanager
def timed(kind: str) -> Iterator[None]:
    """Add the block's wall time to ``kind`` of the request being timed (nothing if none is, or if an
    enclosing block already times ``kind``)."""
    spent = _current.get()
    if spent is None or kind in spent.open:
        yield
        return
    spent.open.add(kind)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        spent.open.discard(kind)
        spent.ms[kind] = spent.ms.get(kind, 0.0) + (time.perf_counter() - t0) * 1000


def timed_call(kind: str) -> Callable[[F], F]:
    """``timed(kind)`` around every call of the decorated function."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with timed(kind):
                return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def request(op: str) -> Callable[[F], F]:
    """Time a use case taking ``ctx`` first: one log line per call when ``ctx.settings.timing_log``."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(ctx: AppContext, *args: Any, **kwargs: Any) -> Any:
            if not ctx.settings.timing_log:
                return fn(ctx, *args, **kwargs)
            enable()
            spent, status = _Spent(), "ok"
            token = _current.set(spent)
            t0 = time.perf_counter()
            try:
                return fn(ctx, *args, **kwargs)
            except Exception as exc:
                status = type(exc).__name__
                raise
            finally:
                _current.reset(token)
                total = (time.perf_counter() - t0) * 1000
                parts = " ".join(f"{k}_ms={spent.ms.get(k, 0.0):.1f}" for k in KINDS)
                log.info("op=%s total_ms=%.1f %s status=%s", op, total, parts, status)

        return inner  # type: ignore[return-value]

    return wrap
