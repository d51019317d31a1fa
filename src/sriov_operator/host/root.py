"""Read access to a host through one root path (``/`` in production, ``/host`` in a pod, a tree in tests).

Reads never raise for a missing or unreadable attribute: sysfs answers some
reads with an error (``speed`` of a link that is down, for example), which for
discovery simply means "unknown".  They are bounded: only regular files are
read (a FIFO or a device under the root never blocks us), at most a capped
number of bytes, and never through a symlink that leaves the root.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sriov_operator.errors import HostError

PCI_DEVICES = "sys/bus/pci/devices"
PCI_DRIVERS = "sys/bus/pci/drivers"
PCI_DRIVERS_PROBE = "sys/bus/pci/drivers_probe"
CLASS_NET = "sys/class/net"
CLASS_BLOCK = "sys/class/block"
MODULES = "sys/module"
IOMMU_GROUPS = "sys/kernel/iommu_groups"
DMI_ID = "sys/class/dmi/id"
VFIO_NOIOMMU_PARAMETER = "sys/module/vfio/parameters/enable_unsafe_noiommu_mode"
OPERATOR_STATE_DIR = "etc/sriov-operator"
ATTRIBUTE_MAX_BYTES = 64 * 1024  # a sysfs attribute is at most a page; leave room
STATE_FILE_MAX_BYTES = 4 * 1024 * 1024  # our own records and checkpoint

log = logging.getLogger(__name__)


class OutsideRootError(HostError):
    """A host path leads (through a symlink) outside the host root: we refuse to touch it."""


class HostFileError(HostError):
    """A file of ours under the host root cannot be read or is not what we wrote."""


READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def read_regular_file(path: str, max_bytes: int, opener: Callable[[str, int], int] = os.open) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``.

    OSError for anything else: a FIFO, socket or device is refused before it is
    opened (and the open is non-blocking: one swapped in meanwhile reads as
    empty instead of blocking), a longer file is refused rather than cut.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path}: not a regular file")
    fd = opener(path, READ_FLAGS)
    try:
        data = bytearray()
        while chunk := os.read(fd, max_bytes + 1 - len(data)):
            data += chunk
            if len(data) > max_bytes:
                raise OSError(f"{path}: larger than {max_bytes} bytes")
        return bytes(data)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class HostRoot:
    root: Path
    _real_root: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_root", os.path.realpath(self.root))

    def path(self, relative: str, *more: str) -> Path:
        """A host path such as ``sys/bus/pci/devices`` (relative to the root, no leading slash)."""
        return self.root.joinpath(relative, *more)

    def display(self, path: str | bytes | os.PathLike[str]) -> str:
        """A path as the host sees it (``/sys/…``), whatever the root: for messages."""
        text = os.fsdecode(path)
        for root in {str(self.root), os.path.realpath(self.root)}:
            if root != "/" and (text == root or text.startswith(root + "/")):
                return "/" + text[len(root) :].lstrip("/")
        return text

    def _check(self, path: Path, real: str) -> None:
        root = self._real_root
        if root not in ("/", real) and not real.startswith(root + "/"):
            raise OutsideRootError(
                f"{path}: resolves to {real}, outside the host root {root}; refusing to touch it"
            )

    def inside(self, path: Path) -> Path:
        """``path`` with its symlinks resolved; OutsideRootError if that leaves the root."""
        real = os.path.realpath(path)
        self._check(path, real)
        return Path(real)

    def open_inside(self, path: str | Path, flags: int) -> int:
        """``os.open`` of a file that, once opened, is known to be under the root (no check-then-use race).

        The opened file's real path comes from ``/proc/self/fd``: one system call
        instead of resolving every component of ``path``.
        """
        fd = os.open(path, flags)
        if self._real_root == "/":
            return fd  # nothing to leave
        try:
            self._check(Path(path), os.readlink(f"/proc/self/fd/{fd}"))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, path: Path, max_bytes: int = ATTRIBUTE_MAX_BYTES) -> str | None:
        """The stripped text of a regular file under the root, or None (missing, unreadable, too big)."""
        try:
            return read_regular_file(os.fspath(path), max_bytes, self.open_inside).decode().strip()
        except OutsideRootError as error:
            log.warning("ignoring %s", error)
            return None
        except (OSError, UnicodeDecodeError):
            return None

    def read_int(self, path: Path, base: int = 10) -> int | None:
        text = self.read(path)
        try:
            return int(text, base) if text is not None else None
        except ValueError:
            return None

    def read_state_file(self, path: Path) -> str | None:
        """One of our own files (records, checkpoint): None if missing, HostFileError if unreadable."""
        if not os.path.lexists(path):
            return None
        try:
            return read_regular_file(os.fspath(path), STATE_FILE_MAX_BYTES, self.open_inside).decode()
        except (OSError, UnicodeDecodeError) as error:
            raise HostFileError(f"{path}: cannot read: {error}; remove it if it is not ours") from None

    @staticmethod
    def link_name(path: Path) -> str | None:
        """The last component of a symlink's target (``driver`` -> ``vfio-pci``), or None."""
        try:
            return os.path.basename(os.readlink(path))
        except OSError:
            return None

    @staticmethod
    def names(path: Path) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def resolve_link(self, link: Path) -> Path | None:
        """Follow ``link`` inside the root: absolute targets are re-rooted, relative ones kept relative."""
        try:
            target = os.readlink(link)
        except OSError:
            return link if link.exists() else None
        if os.path.isabs(target):
            return self.root / target.lstrip("/")
        return Path(os.path.normpath(link.parent / target))
