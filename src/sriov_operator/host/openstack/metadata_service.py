"""Client for the Nova metadata service, used when the VM has no config drive.

Each document has one deadline covering connect, headers and body: a watchdog
closes the connection when it passes, so a server that trickles bytes cannot
hold us.  Bodies are capped in size and must be as long as their
Content-Length.  Redirects are followed only on the same host.  Connection
errors, 429 and 5xx are retried with backoff; 404 on the dated version falls
back to ``latest``; other errors and malformed JSON fail at once, naming the
URL.  ``sleep`` is injectable so tests are fast.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from sriov_operator.errors import BadInputError, TransientError
from sriov_operator.host.openstack.metadata import (
    META_DATA_FILE,
    METADATA_VERSIONS,
    NETWORK_DATA_FILE,
    MetadataError,
    OpenStackMetadata,
    parse_metadata_documents,
)

DEFAULT_METADATA_URL = "http://169.254.169.254"
HTTP_OK = 200
HTTP_NOT_FOUND = 404
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
READ_CHUNK = 64 * 1024
MAX_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class MetadataServiceSettings:
    base_url: str = DEFAULT_METADATA_URL
    timeout_seconds: float = 10.0  # per document: connect, headers and body together
    backoff_seconds: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # upstream's: 5 attempts
    max_bytes: int = 1024 * 1024
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        url = urllib.parse.urlsplit(self.base_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise BadInputError(
                f"--metadata-url: {self.base_url[:100]!r} is not an http:// or https:// URL with a host"
            )
        if not (math.isfinite(self.timeout_seconds) and 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS):
            raise BadInputError(
                f"--metadata-timeout: {self.timeout_seconds!r} is not a number of seconds "
                f"in (0, {MAX_TIMEOUT_SECONDS:g}]"
            )


class _RetryableError(TransientError):
    """A failure worth another attempt (the message says which)."""


class _NotFoundError(MetadataError):
    """HTTP 404: the document (or this metadata version) is not there."""


class _Deadline:
    """Closes the connection's socket when the deadline passes, unblocking any read."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.expired = False
        self._connection = connection
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()


def _read_body(response: http.client.HTTPResponse, url: str, settings: MetadataServiceSettings) -> bytes:
    expected = response.length  # None without Content-Length
    if expected is not None and expected > settings.max_bytes:
        raise MetadataError(f"{url}: response larger than {settings.max_bytes} bytes; refusing it")
    body = bytearray()
    while chunk := response.read1(READ_CHUNK):
        body += chunk
        if len(body) > settings.max_bytes:
            raise MetadataError(f"{url}: response larger than {settings.max_bytes} bytes; refusing it")
    if response.length:  # bytes still owed when the connection ended
        raise _RetryableError(f"body ended after {len(body)} of {len(body) + response.length} bytes")
    return bytes(body)


def _connection(url: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    return kind(url.hostname or "", url.port, timeout=timeout)


def _get_once(url: str, settings: MetadataServiceSettings) -> bytes:
    """One GET with one deadline; same-host redirects followed within it."""
    current = urllib.parse.urlsplit(url)
    origin = (current.scheme, current.hostname, current.port)
    started = time.monotonic()
    for _ in range(MAX_REDIRECTS + 1):
        remaining = settings.timeout_seconds - (time.monotonic() - started)
        connection = _connection(current, max(remaining, 0.001))
        with _Deadline(connection, max(remaining, 0.001)) as deadline:
            try:
                path = current.path + (f"?{current.query}" if current.query else "")
                connection.request("GET", path or "/", headers={"Accept": "application/json"})
                response = connection.getresponse()
                if response.status in REDIRECTS:
                    target = urllib.parse.urlsplit(
                        urllib.parse.urljoin(url, response.getheader("Location", ""))
                    )
                    if (target.scheme, target.hostname, target.port) != origin:
                        raise MetadataError(
                            f"{url}: redirected to another host ({target.geturl()[:100]}); not followed"
                        )
                    current = target
                    continue
                if response.status == HTTP_OK:
                    return _read_body(response, url, settings)
                _raise_for_status(url, response.status, response.reason)
            except (OSError, http.client.HTTPException) as error:
                if deadline.expired:
                    raise _RetryableError(
                        f"no complete answer within {settings.timeout_seconds:g} s"
                    ) from None
                if isinstance(error, ConnectionRefusedError | socket.gaierror | TimeoutError):
                    raise _RetryableError(f"cannot connect: {error}") from None
                raise _RetryableError(f"{type(error).__name__}: {error}") from None
            finally:
                connection.close()
    raise MetadataError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _raise_for_status(url: str, status: int, reason: str) -> None:
    if status == HTTP_NOT_FOUND:
        raise _NotFoundError(f"{url}: not found (HTTP 404); is this an OpenStack VM?")
    if status == HTTP_TOO_MANY_REQUESTS or status >= HTTP_SERVER_ERROR:
        raise _RetryableError(f"HTTP {status}")
    raise MetadataError(f"{url}: HTTP {status} {reason[:100]}")


def fetch(url: str, settings: MetadataServiceSettings) -> bytes:
    attempt = 0
    while True:
        try:
            return _get_once(url, settings)
        except _RetryableError as error:
            if attempt >= len(settings.backoff_seconds):
                raise MetadataError(
                    f"{url}: metadata service unreachable after {attempt + 1} attempts: {error}"
                ) from None
            settings.sleep(settings.backoff_seconds[attempt])
            attempt += 1


def read_metadata_service(settings: MetadataServiceSettings) -> OpenStackMetadata:
    """Both documents from the newest version the service has (``2018-08-27``, else ``latest``)."""
    for version in METADATA_VERSIONS:
        base = f"{settings.base_url.rstrip('/')}/openstack/{version}/"
        try:
            meta = fetch(base + META_DATA_FILE, settings)
        except _NotFoundError:
            if version == METADATA_VERSIONS[-1]:
                raise
            continue
        network = fetch(base + NETWORK_DATA_FILE, settings)
        return parse_metadata_documents(meta, network, base)
    raise AssertionError("unreachable: the last version re-raises")  # pragma: no cover
