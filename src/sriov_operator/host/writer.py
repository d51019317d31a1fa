"""The one object every host write goes through, confined to the host root.

Every path is resolved first (symlinks included) and must still be under the
root: a crafted tree cannot make us write or delete anything elsewhere.  The
final open does not follow a symlink, so a link swapped in after the check is
refused too.  The simulator subclasses this writer and adds the kernel's
reactions, so apply code is identical against a real host and a simulated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sriov_operator.host.root import HostRoot, OutsideRootError


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """Re-raise an OSError naming ``path`` as the caller addressed it, not where it resolved."""
    try:
        yield
    except OutsideRootError:
        raise
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None


class HostWriter:
    def __init__(self, root: Path) -> None:
        self.host = HostRoot(root)

    def write_attribute(self, path: Path, value: str) -> None:
        """Write a kernel attribute (sysfs) in a single ``write``; never creates the file.

        An OSError names ``path`` as given (``/sys/bus/pci/devices/…``), not where it resolved.
        """
        with naming(path):
            fd = self.host.open_inside(self.host.inside(path), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)

    def ensure_directory(self, directory: Path) -> Path:
        """``directory`` under the root, created if missing (each existing step checked first)."""
        existing = directory
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        self.host.inside(existing)
        directory.mkdir(parents=True, exist_ok=True)
        return self.host.inside(directory)

    def write_file(self, path: Path, text: str) -> None:
        """Replace an ordinary file atomically (our own records), creating its directory."""
        directory = self.ensure_directory(path.parent)
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, prefix=f".{path.name}.") as tmp:
            tmp.write(text)
        os.replace(tmp.name, directory / path.name)

    def remove_file(self, path: Path) -> None:
        """Remove a file of ours; a symlink is removed itself, never what it points to."""
        directory = self.host.inside(path.parent)
        (directory / path.name).unlink(missing_ok=True)
