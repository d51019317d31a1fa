"""A server TLS context whose certificate follows its files.

Kubernetes updates a mounted Secret by swapping a symlink, so the files change
all at once; the operator rotates the serving certificate that way.  The
context is reloaded in place: connections already open keep the certificate
they were made with, new handshakes get the new one, nothing is dropped.  A
half-written pair (new certificate, old key) fails to load and is retried at
the next check while the old certificate keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from sriov_operator.errors import BadInputError

logger = logging.getLogger(__name__)

FileStamp = tuple[tuple[int, int, int], ...]
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class CertificateFileError(BadInputError):
    """The certificate or key file cannot be read or does not form a pair."""


def _stamp(paths: tuple[Path, ...]) -> FileStamp:
    stamps = []
    for path in paths:
        stat = path.stat()
        stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def server_context(min_version: str = "1.2", ciphers: str = "") -> ssl.SSLContext:
    """A server context accepting ``min_version`` and newer; ``ciphers`` (OpenSSL names, ':'-joined)
    narrows the TLS 1.2 suites ("" keeps OpenSSL's defaults; TLS 1.3's suites are not configurable)."""
    if min_version not in TLS_VERSIONS:
        raise BadInputError(f"--tls-min-version: {min_version!r} is not accepted (1.2 or 1.3)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[min_version]
    if ciphers:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError:
            raise BadInputError(
                f"--tls-ciphers: {ciphers!r} names no cipher suite OpenSSL knows "
                "(accepted: OpenSSL names joined by ':', e.g. ECDHE-ECDSA-AES128-GCM-SHA256)"
            ) from None
    return context


class ReloadingTlsContext:
    def __init__(self, cert: Path, key: Path, context: ssl.SSLContext | None = None) -> None:
        self.cert, self.key = cert, key
        self.context = context or server_context()
        self._stamp: FileStamp = ()
        self.reloads = 0
        self.load()

    def load(self) -> None:
        """Load the pair now; raises CertificateFileError naming the files."""
        try:
            stamp = _stamp((self.cert, self.key))
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise CertificateFileError(
                f"--tls-cert {self.cert} / --tls-key {self.key}: cannot load a certificate and its key: {exc}"
            ) from exc
        self._stamp = stamp

    def reload_if_changed(self) -> bool:
        """Reload when either file changed since the last load; keep the old pair if the new one fails."""
        try:
            changed = _stamp((self.cert, self.key)) != self._stamp
        except OSError:
            changed = True
        if not changed:
            return False
        try:
            self.load()
        except CertificateFileError as exc:
            logger.warning("still serving the previous certificate: %s", exc)
            return False
        self.reloads += 1
        logger.info("serving certificate reloaded from %s", self.cert)
        return True

    async def watch(self, interval: float) -> None:
        """Check the files every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
