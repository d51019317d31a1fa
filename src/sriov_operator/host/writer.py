"""The one object every host write goes through, confined to the host root.

Every path is resolved first (symlinks included) and must still be under the
root: a crafted tree cannot make us write or delete anything elsewhere.  The
final open does not follow a symlink, so a link swapped in after the check is
refused too.  The simulator subclasses this writer and adds the kernel's
reactions, so apply code is identical against a real host and a simulated one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sriov_operator.host.root import HostRoot


class HostWriter:
    def __init__(self, root: Path) -> None:
        self.host = HostRoot(root)

    def write_attribute(self, path: Path, value: str) -> None:
        """Write a kernel attribute (sysfs) in a single ``write``; never creates the file."""
        fd = os.open(self.host.inside(path), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
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
