"""The path from the guest to a server on the host's 127.0.0.1, without giving QEMU a network.

QEMU runs in its own network namespace (``unshare --net``), where 127.0.0.1 is
not the host's.  The guest's connection to a ``guestfwd`` address starts
``python -m sriov_vmtest.relay SOCKET`` (QEMU's ``cmd:`` form: one
relay per connection), which joins its stdin/stdout to a Unix socket; the
filesystem is shared, so the host side (`UnixToLoopbackBridge`) accepts there
and connects to the server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
Direction = tuple[int, int, Callable[[], None]]  # source fd, sink fd, how to tell the sink "end of file"


def _copy(source: int, sink: int, at_end: Callable[[], None]) -> None:
    try:
        while data := os.read(source, CHUNK):
            view = memoryview(data)
            while view:
                view = view[os.write(sink, view) :]
    except OSError:
        pass  # the other side went away: end this direction
    finally:
        with contextlib.suppress(OSError):
            at_end()


def pump(first: Direction, second: Direction) -> None:
    """Copy both directions at once; each signals end of file to its sink, and both must end."""
    other = threading.Thread(target=_copy, args=second, daemon=True)
    other.start()
    _copy(*first)
    other.join()


def _end_output(fd: int) -> None:
    """End of file on stdout: QEMU gives one socket as stdin and stdout, so closing fd 1 is not enough."""
    try:
        with socket.socket(fileno=os.dup(fd)) as connection:
            connection.shutdown(socket.SHUT_WR)
    except OSError:
        os.close(fd)  # a pipe


def relay_stdio(path: Path) -> None:
    """The guestfwd side: stdin -> the Unix socket -> stdout."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        unix.connect(str(path))
        stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
        for fd in (stdin, stdout):
            os.set_blocking(fd, True)  # QEMU hands over its end of the guest's connection non-blocking
        pump(
            (stdin, unix.fileno(), lambda: unix.shutdown(socket.SHUT_WR)),
            (unix.fileno(), stdout, lambda: _end_output(stdout)),
        )


class UnixToLoopbackBridge:
    """Accepts on a Unix socket and connects each client to ``127.0.0.1:port`` (the host side)."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(16)
        self._thread = threading.Thread(target=self._accept, name=f"bridge-{path.name}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError as error:  # nothing listens: the guest sees its connection closed
                log.warning("relay %s: 127.0.0.1:%d: %s", self.path.name, self.port, error)
                return
            with upstream:
                upstream.settimeout(None)
                pump(
                    (client.fileno(), upstream.fileno(), lambda: upstream.shutdown(socket.SHUT_WR)),
                    (upstream.fileno(), client.fileno(), lambda: client.shutdown(socket.SHUT_WR)),
                )

    def close(self) -> None:
        self._server.close()
        self.path.unlink(missing_ok=True)


def main() -> None:
    relay_stdio(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
