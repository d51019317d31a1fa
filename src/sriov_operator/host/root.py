"""Read access to a host through one root path (``/`` in production, ``/host`` in a pod, a tree in tests).

Reads are plain file reads under the root and never raise for a missing or
unreadable attribute: sysfs answers some reads with an error (``speed`` of a
link that is down, for example), which for discovery simply means "unknown".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class HostRoot:
    root: Path

    def path(self, relative: str, *more: str) -> Path:
        """A host path such as ``sys/bus/pci/devices`` (relative to the root, no leading slash)."""
        return self.root.joinpath(relative, *more)

    @staticmethod
    def read(path: Path) -> str | None:
        try:
            return path.read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None

    @classmethod
    def read_int(cls, path: Path, base: int = 10) -> int | None:
        text = cls.read(path)
        try:
            return int(text, base) if text is not None else None
        except ValueError:
            return None

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
