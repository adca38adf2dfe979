"""The connection layer under the app: time limits and a bound on open connections that uvicorn
does not have, and JSON for the errors uvicorn answers itself.

uvicorn (h11) closes an idle keep-alive connection after ``timeout_keep_alive``, but a fresh
connection that never sends a request, or sends its headers a byte at a time (slowloris), is kept
forever, and every open connection holds a file descriptor until accept() fails. Here:

- a request's line and headers must arrive within ``header_timeout`` of the connection becoming
  ready for one (opened, or its previous response sent): else 408 and close;
- at most ``max_connections`` are open: a new one closes the oldest idle connection (idle: not
  in a request), or is answered 503 when every connection is in a request. asyncio accepts up to
  the listen backlog in one loop iteration before reading from any connection, so the backlog is
  kept well under ``max_connections`` (``listen_backlog``): a flood of connects cannot push a
  client's connection out in the moment between its connect and its request;
- the 400 uvicorn sends for a malformed request or headers over ``h11_max_incomplete_event_size``
  is JSON like every other error.

The body's own deadline (``--body-timeout``) is kept by the app's Guard middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from toolkit.serve.http import raw_error

log = logging.getLogger("toolkit.serve")


@dataclass
class ConnectionLimits:
    max_connections: int = 1000
    header_timeout: float = 10.0
    # Shared by the server's connections (one event loop: no lock needed).
    idle: OrderedDict[Any, None] = field(default_factory=OrderedDict)  # oldest idle first
    evicted: int = 0
    refused: int = 0
    timed_out: int = 0


def listen_backlog(max_connections: int) -> int:
    """A quarter of the connection limit (64 to 2048): at most two loop iterations of accepts
    (half the limit) come between a connection's accept and the reading of its request."""
    return max(64, min(2048, max_connections // 4))


def protocol_class(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``limits`` (passed to uvicorn as ``http=``)."""

    class GuardedProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                oldest = next(iter(limits.idle), None)
                if oldest is None:  # every connection is in a request
                    limits.refused += 1
                    transport.write(raw_error(503, "Service Unavailable", "Too many connections; retry in a "
                                              "moment", {"retry-after": "1"}))
                    transport.close()
                    return
                limits.evicted += 1
                oldest.close_idle()
            self._ready_for_request()

        def _ready_for_request(self) -> None:
            limits.idle[self] = None
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self._in_request() or self.transport.is_closing():
                return
            limits.timed_out += 1
            limits.idle.pop(self, None)
            self.transport.write(raw_error(408, "Request Timeout",
                                           f"Request headers not received within {limits.header_timeout:g} seconds"))
            self.transport.close()

        def close_idle(self) -> None:
            limits.idle.pop(self, None)
            self._cancel_header_timer()
            if not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_request():  # the headers are in: the request is the app's now
                self._cancel_header_timer()
                limits.idle.pop(self, None)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._in_request():
                limits.idle.pop(self, None)  # idle again: now the newest idle connection
                self._ready_for_request()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            limits.idle.pop(self, None)
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            self.transport.write(raw_error(400, "Bad Request", f"Invalid HTTP request: {msg.rstrip('.')} (malformed, "
                                                               "or its headers are too large)"))
            self.transport.close()

    return GuardedProtocol


class ThrottledAcceptErrors(logging.Filter):
    """asyncio logs a traceback for every failed accept() once descriptors run out (tens of
    thousands a second under a connection flood); this lets one line through per ``interval``,
    with the count of those it held back."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._last = -float("inf")
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.MESSAGE):
            return True
        now = time.monotonic()
        if now - self._last < self.interval:
            self._held += 1
            return False
        exc = record.exc_info[1] if record.exc_info else None
        why = getattr(exc, "strerror", None) or (type(exc).__name__ if exc else "unknown")
        record.msg = (f"cannot accept connections: {why} ({self._held + 1} time(s) since the last report); "
                      "raise `ulimit -n` or lower --max-connections")
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        self._last = now
        self._held = 0
        return True
