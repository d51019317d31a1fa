"""One applier per host: an exclusive lock file under the host root's state directory.

``flock`` locks belong to the open file, so a crashed holder releases the lock
with its last descriptor; nothing stale is left to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator

from sriov_operator.errors import HostError
from sriov_operator.host.root import OPERATOR_STATE_DIR, HostRoot
from sriov_operator.host.writer import HostWriter

LOCK_FILE = f"{OPERATOR_STATE_DIR}/apply.lock"
POLL_SECONDS = 0.1


class HostLockedError(HostError):
    """Another process is applying changes to this host."""


@contextlib.contextmanager
def host_lock(
    host: HostRoot,
    writer: HostWriter,
    timeout_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the host's apply lock; wait up to ``timeout_seconds`` for another holder to finish."""
    path = host.path(LOCK_FILE)
    directory = writer.ensure_directory(path.parent)
    fd = os.open(directory / path.name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        deadline = clock() + timeout_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise HostLockedError(
                        f"{host.display(path)}: another apply holds this host's lock; waited "
                        f"{timeout_seconds:g} s (run one applier per host: the config daemon, or the CLI)"
                    ) from None
                sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)
