"""Connection guard of the admission server: timeouts, a connection cap, quiet file-handle exhaustion.

aiohttp's server has no read timeouts and no connection cap, so each accepted
connection's protocol (aiohttp's ``RequestHandler``) is wrapped in a
`GuardedProtocol` that

- answers ``503`` and closes when ``max_connections`` are already open (the cap
  is also kept below the process's open-file limit, so established connections
  never use up the file handles the process needs for its own API calls);
- closes a connection with no request under way after ``idle_timeout`` (idle
  after the TLS handshake, or between keep-alive requests);
- answers ``408`` and closes a connection whose request headers are not complete
  ``header_timeout`` after the request's first byte (slow headers).

The endpoint tells the guard when it has the headers (`GuardedProtocol.request_began`)
and when it has answered (`request_ended`); it times the body read itself.
`QuietAcceptErrors` replaces asyncio's log line per failed ``accept()`` (out of
file handles: asyncio logs one per queued connection, thousands a second) with one
line per interval.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

logger = logging.getLogger(__name__)

FILE_RESERVE = 64  # file handles kept for everything but client connections (API watches, logs, TLS files)
ACCEPT_ERROR = "socket.accept() out of system resource"

DROPPED = Counter(
    "sriov_operator_webhook_connections_dropped_total",
    "Connections the webhook closed itself, by reason (cap, idle, header-timeout, body-timeout, "
    "out-of-files: accept() failures)",
    ["reason"],
)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 512
    header_timeout: float = 5.0  # also the TLS handshake timeout
    body_timeout: float = 5.0
    idle_timeout: float = 30.0


def _busy_response(status: str, text: str) -> bytes:
    body = text.encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def effective_cap(configured: int, open_file_limit: int, reserve: int = FILE_RESERVE) -> int:
    """The connection cap: the configured one, but never within ``reserve`` of the open-file limit."""
    return max(1, min(configured, open_file_limit - reserve))


def open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Connections:
    """The protocol factory handed to ``loop.create_server``; ``inner`` makes aiohttp's protocol."""

    def __init__(self, limits: ConnectionLimits, inner: Callable[[], Any] | None = None) -> None:
        self.limits = limits
        self.inner = inner  # set before the server starts: aiohttp's server exists after runner.setup()
        self.cap = effective_cap(limits.max_connections, open_file_limit())
        self.open: dict[asyncio.BaseTransport, GuardedProtocol] = {}

    def __call__(self) -> GuardedProtocol:
        return GuardedProtocol(self)

    def of(self, transport: Any) -> GuardedProtocol | None:
        """The guard of the connection a request came on (None: not ours, e.g. a test client)."""
        return self.open.get(transport)


class GuardedProtocol(asyncio.Protocol):
    def __init__(self, owner: Connections) -> None:
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        self.inner: Any = None
        self.transport: asyncio.Transport | None = None
        self.handling = False
        self.request_started = 0.0  # loop time of the current request's first byte
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if len(self.owner.open) >= self.owner.cap:
            DROPPED.labels("cap").inc()
            transport.write(
                _busy_response(
                    "503 Service Unavailable", f"webhook busy: {self.owner.cap} connections open; retry\n"
                )
            )
            transport.close()
            return
        assert self.owner.inner is not None, "Connections.inner is set before serving"
        self.owner.open[transport] = self
        self.inner = self.owner.inner()
        self.inner.connection_made(transport)
        self._arm(self.owner.limits.idle_timeout, "idle")

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if not self.handling and self._reason == "idle":
            self.request_started = self.loop.time()
            self._arm(self.owner.limits.header_timeout, "header-timeout")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.transport is not None:
            self.owner.open.pop(self.transport, None)
        if self.inner is not None:
            self.inner.connection_lost(exc)
            self.inner = None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # --------------------------------------------------- told by the endpoint
    def request_began(self) -> None:
        """The headers are in: the endpoint times the body and the review from here."""
        self.handling = True
        self._disarm()

    def request_ended(self) -> None:
        self.handling = False
        self._arm(self.owner.limits.idle_timeout, "idle")

    # -------------------------------------------------------------- timers
    _reason = "idle"

    def _arm(self, delay: float, reason: str) -> None:
        self._disarm()
        self._reason = reason
        self._timer = self.loop.call_later(delay, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.transport is None or self.transport.is_closing():
            return
        DROPPED.labels(self._reason).inc()
        if self._reason == "header-timeout":
            limit = self.owner.limits.header_timeout
            text = f"request headers not complete within {limit:g} s\n"
            self.transport.write(_busy_response("408 Request Timeout", text))
        self.transport.close()


class QuietAcceptErrors:
    """A loop exception handler: ``accept()`` out of file handles logs once per ``interval`` seconds."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] | None = None) -> None:
        self.interval = interval
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self.suppressed = 0
        self._last: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_ERROR:
            loop.default_exception_handler(context)
            return
        DROPPED.labels("out-of-files").inc()
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return
        logger.warning(
            "cannot accept connections: %s (%d more since the last message); new connections wait "
            "in the listen queue; lower --max-connections or raise the open-file limit",
            context.get("exception"),
            self.suppressed,
        )
        self._last, self.suppressed = now, 0
