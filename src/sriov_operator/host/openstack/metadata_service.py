"""Client for the Nova metadata service, used when the VM has no config drive.

Every request has a deadline (connect and whole body), a size cap, and retries
with backoff on connection errors, 429 and 5xx; 404 and malformed JSON fail at
once with a message naming the URL.  ``sleep`` is injectable so tests are fast.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from sriov_operator.errors import TransientError
from sriov_operator.host.openstack.metadata import (
    META_DATA_FILE,
    NETWORK_DATA_FILE,
    MetadataError,
    OpenStackMetadata,
    parse_metadata_documents,
)

DEFAULT_METADATA_URL = "http://169.254.169.254"
METADATA_SERVICE_VERSION = "2018-08-27"
HTTP_NOT_FOUND = 404
HTTP_TOO_MANY_REQUESTS = 429
HTTP_SERVER_ERROR = 500
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class MetadataServiceSettings:
    base_url: str = DEFAULT_METADATA_URL
    timeout_seconds: float = 10.0
    backoff_seconds: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # upstream's: 5 attempts
    max_bytes: int = 1024 * 1024
    sleep: Callable[[float], None] = time.sleep


class _RetryableError(TransientError):
    """A failure worth another attempt (the message says which)."""


def _read_capped(response: http.client.HTTPResponse, url: str, settings: MetadataServiceSettings) -> bytes:
    deadline = time.monotonic() + settings.timeout_seconds
    body = bytearray()
    while chunk := response.read(READ_CHUNK):
        body += chunk
        if len(body) > settings.max_bytes:
            raise MetadataError(f"{url}: response larger than {settings.max_bytes} bytes; refusing it")
        if time.monotonic() > deadline:
            raise _RetryableError(f"response not complete within {settings.timeout_seconds:g} s")
    return bytes(body)


def _get_once(url: str, settings: MetadataServiceSettings) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=settings.timeout_seconds) as response:
            return _read_capped(response, url, settings)
    except urllib.error.HTTPError as error:
        if error.code == HTTP_NOT_FOUND:
            raise MetadataError(f"{url}: not found (HTTP 404); is this an OpenStack VM?") from None
        if error.code == HTTP_TOO_MANY_REQUESTS or error.code >= HTTP_SERVER_ERROR:
            raise _RetryableError(f"HTTP {error.code}") from None
        raise MetadataError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise _RetryableError(f"cannot connect: {error.reason}") from None
    except (OSError, http.client.HTTPException) as error:
        raise _RetryableError(f"{type(error).__name__}: {error}") from None


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
    base = f"{settings.base_url.rstrip('/')}/openstack/{METADATA_SERVICE_VERSION}/"
    meta = fetch(base + META_DATA_FILE, settings)
    network = fetch(base + NETWORK_DATA_FILE, settings)
    return parse_metadata_documents(meta, network, base)
