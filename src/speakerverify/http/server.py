"""What ``speakerverify serve`` hands uvicorn: forwarded headers, header size and idle-time bounds.

uvicorn's defaults are wrong for a service an attacker talks to directly: it believes
``X-Forwarded-For`` from 127.0.0.1 (so anything on the host, or a proxy that passes the header on,
chooses the client address the login throttles count), its httptools parser accepts request heads of
any size, and no timer runs while a connection is open but idle or sending its request slowly. The
h11 parser has a head-size bound (``h11_max_incomplete_event_size``), though only for a head still
incomplete after a read; the exact bound and the request timer are the small protocol subclass
below, since uvicorn has no setting for either. (h11 is slower than httptools; the service's requests
are few and heavy, so the parser's cost is small next to scoring.)
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import ServerLimits, server_limits_from_env


@functools.cache
def _limits() -> ServerLimits:
    # Read in the process that serves: uvicorn's worker processes re-import this module, so a value set
    # by the parent would not reach them; the environment (which ``serve`` hands down) does.
    return server_limits_from_env(os.environ)


TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class TimedH11Protocol(H11Protocol):
    """h11 with a deadline and a head bound. Each request (head and body) must arrive within
    ``request_timeout`` seconds of the connection opening or of the previous response, else the
    connection is closed: that covers a connection that sends nothing and one that trickles its headers
    (slowloris); uvicorn's keep-alive timer is cancelled by any byte received, so it covers neither.
    A request head over ``max_head`` bytes gets 431 and a closed connection (h11's own bound misses a
    head that arrives whole in one read of up to 256 KiB)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self.request_timeout = float(_limits().request_timeout_seconds)
        self.max_head = _limits().max_header_bytes

    def _head_too_large(self, data: bytes) -> bool:
        """Count the bytes of the current request head in ``data``; True once they exceed the bound."""
        if self.conn.their_state is not h11.IDLE:
            return False
        end = data.find(b"\r\n\r\n")
        self._head_bytes += end + 4 if end >= 0 else len(data)
        return self._head_bytes > self.max_head

    def _arm(self) -> None:
        self._disarm()
        if self.request_timeout > 0:
            self._deadline = self.loop.call_later(self.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_too_large(data):
            self._disarm()
            self.transport.write(TOO_LARGE)
            self.transport.close()
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is done): the app's time is its own

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head_bytes = 0
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``."""
    options: dict[str, Any] = {
        # Forwarded headers only from the configured proxies; with none, X-Forwarded-For is ignored.
        "proxy_headers": bool(limits.trusted_proxies),
        "forwarded_allow_ips": list(limits.trusted_proxies) or [],
        "timeout_keep_alive": limits.keepalive_seconds,
        "server_header": False,
        "http": TimedH11Protocol,
    }
    if limits.max_header_bytes > 0:  # else h11's own default bound (16 KiB) applies
        options["h11_max_incomplete_event_size"] = limits.max_header_bytes
    return options
