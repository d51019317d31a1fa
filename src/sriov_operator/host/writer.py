"""The one object every host write goes through.

Production writes plain files.  The simulator subclasses it and adds the
kernel's reactions, so apply code is identical against a real host and a
simulated one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class HostWriter:
    def write_attribute(self, path: Path, value: str) -> None:
        """Write a kernel attribute (sysfs) in a single ``write``; never creates the file."""
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def write_file(self, path: Path, text: str) -> None:
        """Replace an ordinary file atomically (our own records), creating its directory."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, prefix=f".{path.name}.") as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)

    def remove_file(self, path: Path) -> None:
        path.unlink(missing_ok=True)
