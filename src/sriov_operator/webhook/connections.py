"""Connection guard of the admission server: timeouts, a connection cap, quiet file-handle exhaustion.

aiohttp's server has no read timeouts and no connection cap, so each accepted
connection's protocol (aiohttp's ``RequestHandler``) is wrapped in a
`GuardedProtocol` that

- starts TLS itself (``loop.start_tls``), at most ``handshakes`` at once: each TLS
  connection holds a 256 KiB read buffer in asyncio, so a burst of connections
  waits (as bare TCP, a few KiB each) for a handshake slot instead of all taking
  their buffers at once; a connection that gets no slot, or does not finish its
  handshake, within ``header_timeout`` is closed; one answered 503 (below) keeps
  its slot until it is closed, so TLS memory stays below (cap + handshakes) buffers;
- refuses at once, with a TCP reset, a connection that arrives while ``cap +
  handshakes`` connections are already accepted (open, in their handshake or waiting
  for it): in a burst of thousands of new connections, the ones that could not be
  served before the API server's timeout learn it in a millisecond, at the cost of
  an accept and a close, instead of waiting seconds for a handshake slot and being
  closed in the handshake (a 503 would cost a TLS handshake each, the very work that
  is short; a smaller listen backlog would make Linux drop their SYNs, which clients
  retry after 1, 3, 7 s: slow, not a refusal). The API server reports either as a
  failed call and applies the failurePolicy, as it does for a 503;
- answers ``503`` and closes when ``max_connections`` TLS connections are already
  open (the cap is also kept below the process's open-file limit, so established
  connections never use up the file handles the process needs for its API calls);
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
import ctypes
import gc
import logging
import resource
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

logger = logging.getLogger(__name__)

FILE_RESERVE = 64  # file handles kept for everything but client connections (API watches, logs, TLS files)
HANDSHAKES = 128  # TLS handshakes at once (each connection beyond the cap has one, then gets the 503)
ACCEPT_ERROR = "socket.accept() out of system resource"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 128 * 1024
TRIM_HIGH = 64  # connections accepted at once that make a burst (BurstMemory)
TRIM_LOW = 8  # ... and that end it

DROPPED = Counter(
    "sriov_operator_webhook_connections_dropped_total",
    "Connections the webhook closed itself, by reason (cap: answered 503, refused: reset at once, idle, "
    "header-timeout, body-timeout, out-of-files: accept() failures)",
    ["reason"],
)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 256
    header_timeout: float = 5.0  # also the TLS handshake timeout
    body_timeout: float = 5.0
    idle_timeout: float = 30.0
    handshakes: int = HANDSHAKES


def _busy_response(status: str, text: str) -> bytes:
    body = text.encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _reset(transport: asyncio.Transport) -> None:
    """Close with a TCP reset (no FIN handshake, no TIME_WAIT): the client's refusal, at once."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def effective_cap(configured: int, open_file_limit: int, reserve: int = FILE_RESERVE) -> int:
    """The cap on open connections: the configured one, but at most three quarters of the file
    handles left after ``reserve`` (the last quarter: connections in their handshake, or being
    told 503)."""
    return max(1, min(configured, (open_file_limit - reserve) * 3 // 4))


def map_large_buffers_alone(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold, so each connection's 256 KiB TLS buffer is a mapping of its own
    that goes back to the system when the connection closes (glibc otherwise raises the threshold
    after the first such free, and later buffers stay in the heap: a burst's peak is never given
    back).  False where there is no glibc ``mallopt``."""
    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


def open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class BurstMemory:
    """Gives the heap's free pages back to the system after a burst of connections.

    A burst leaves the heap full of freed small blocks (TLS objects, aiohttp's
    per-connection state, request bodies) that glibc keeps for reuse; its large TLS
    buffers are mappings of their own (`map_large_buffers_alone`) and already go
    back.  Once the connections accepted fall to ``low`` after reaching ``high``,
    ``malloc_trim(0)`` returns the free pages (bench/RESULTS.md, "Webhook under a
    burst": what it gives back, what it costs).  Never in steady traffic: it runs
    once per burst.
    """

    def __init__(
        self, high: int = TRIM_HIGH, low: int = TRIM_LOW, trim: Callable[[], int] | None = None
    ) -> None:
        self.high, self.low = high, low
        self.trim = trim or give_back_free_memory
        self.peaked = False
        self.trims = 0  # bursts ended

    def opened(self, accepted: int) -> None:
        if accepted >= self.high:
            self.peaked = True

    def closed(self, accepted: int) -> None:
        if self.peaked and accepted <= self.low:
            self.peaked = False
            self.trims += 1
            self.trim()


def give_back_free_memory() -> int:
    """A full garbage collection, then glibc's ``malloc_trim(0)``: 1 when glibc gave memory back, 0
    otherwise or without glibc.

    The collection comes first because a closed connection's objects are cyclic (protocol,
    transport, TLS object) and wait for the oldest generation's next run; while one block of a
    Python arena is alive the arena, and the pages under it, cannot go back.
    """
    gc.collect()
    try:
        return int(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):
        return 0


class Connections:
    """The protocol factory handed to ``loop.create_server``; ``inner`` makes aiohttp's protocol."""

    def __init__(
        self, limits: ConnectionLimits, tls: ssl.SSLContext, inner: Callable[[], Any] | None = None
    ) -> None:
        self.limits, self.tls = limits, tls
        self.inner = inner  # set before the server starts: aiohttp's server exists after runner.setup()
        self.cap = effective_cap(limits.max_connections, open_file_limit())
        self.accepted: set[GuardedProtocol] = set()  # TCP connections, in their handshake or open
        self.handshakes = asyncio.Semaphore(limits.handshakes)
        self.most_accepted = max(1, open_file_limit() - FILE_RESERVE)
        self.most_admitted = self.cap + limits.handshakes  # more: refused at once
        self.memory = BurstMemory()
        self.open: dict[asyncio.BaseTransport, GuardedProtocol] = {}  # TLS connections

    def __call__(self) -> GuardedProtocol:
        return GuardedProtocol(self)

    def abort_handshakes(self) -> None:
        """At shutdown: drop the connections still waiting for, or in, their TLS handshake."""
        for protocol in list(self.accepted):
            protocol.abort_handshake()

    def of(self, transport: Any) -> GuardedProtocol | None:
        """The guard of the connection a request came on (None: not ours, e.g. a test client)."""
        return self.open.get(transport)


class GuardedProtocol(asyncio.Protocol):
    """One connection: first the TCP transport (TLS started here), then the TLS one for aiohttp."""

    def __init__(self, owner: Connections) -> None:
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        self.inner: Any = None
        self.raw: asyncio.Transport | None = None
        self.transport: asyncio.Transport | None = None
        self.handling = False
        self.request_started = 0.0  # loop time of the current request's first byte
        self._timer: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Task[None] | None = None
        self._slot = False  # holds one of the handshake slots
        self._early: list[bytes] = []  # data the TLS layer passed on before start_tls returned

    # ------------------------------------------------------------ protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if len(self.owner.accepted) >= self.owner.most_accepted:
            DROPPED.labels("out-of-files").inc()
            transport.abort()  # the file handles left are for the process's own API calls
            return
        if len(self.owner.accepted) >= self.owner.most_admitted:
            DROPPED.labels("refused").inc()
            _reset(transport)
            return
        self.raw = transport
        self.owner.accepted.add(self)
        self.owner.memory.opened(len(self.owner.accepted))
        transport.pause_reading()  # the ClientHello is for the TLS layer start_tls puts in between
        self._handshake = self.loop.create_task(self._start_tls(transport))

    async def _start_tls(self, raw: asyncio.Transport) -> None:
        limits, slots = self.owner.limits, self.owner.handshakes
        try:
            async with asyncio.timeout(limits.header_timeout):
                await slots.acquire()
                self._slot = True
                if raw.is_closing():  # gone while it waited for a slot
                    raise ConnectionError("closed before its handshake")
                tls = await self.loop.start_tls(
                    raw, self, self.owner.tls, server_side=True, ssl_shutdown_timeout=limits.header_timeout
                )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            logger.debug("TLS handshake failed: %s", exc)
            raw.abort()
            self._release()
            return
        if tls is None:  # the peer went away during the handshake
            self._release()
            return
        self._serve(tls)

    def _serve(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        if len(self.owner.open) >= self.owner.cap:  # the 503 keeps its slot until it is closed
            DROPPED.labels("cap").inc()
            transport.write(
                _busy_response(
                    "503 Service Unavailable", f"webhook busy: {self.owner.cap} connections open; retry\n"
                )
            )
            transport.close()
            return
        self._give_back_slot()
        assert self.owner.inner is not None, "Connections.inner is set before serving"
        self.owner.open[transport] = self
        self.inner = self.owner.inner()
        self.inner.connection_made(transport)
        self._arm(self.owner.limits.idle_timeout, "idle")
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def abort_handshake(self) -> None:
        if self.transport is None and self.raw is not None:  # no TLS yet
            if self._handshake is not None:
                self._handshake.cancel()
            self.raw.abort()
            self._release()

    def _give_back_slot(self) -> None:
        if self._slot:
            self._slot = False
            self.owner.handshakes.release()

    def _release(self) -> None:
        self._give_back_slot()
        self._disarm()
        if self in self.owner.accepted:
            self.owner.accepted.discard(self)
            self.owner.memory.closed(len(self.owner.accepted))
        if self.transport is not None:
            self.owner.open.pop(self.transport, None)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            if self.transport is None and sum(map(len, self._early)) < 65536:
                self._early.append(data)
            return
        if not self.handling and self._reason == "idle":
            self.request_started = self.loop.time()
            self._arm(self.owner.limits.header_timeout, "header-timeout")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
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
