"""A built guest bundle in the cache: what is where, and how to run its QEMU."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOADER = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
FIRMWARE_DIRS = ("usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu")


@dataclass(frozen=True)
class Bundle:
    path: Path

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initramfs(self) -> Path:
        return self.path / "initramfs.gz"

    @property
    def root_image(self) -> Path:
        return self.path / "root.img"

    @property
    def manifest(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.path / "manifest.json").read_text())
        return loaded

    def _loader(self, program: str) -> list[str]:
        """``program`` of the extracted trixie tree, run through that tree's own dynamic loader."""
        tree = self.path / "qemu"
        libraries = ":".join(str(tree / d) for d in LIBRARY_DIRS)
        return [str(tree / LOADER), "--library-path", libraries, str(tree / "usr/bin" / program)]

    def qemu_img_command(self) -> list[str]:
        return self._loader("qemu-img")

    def qemu_command(self) -> list[str]:
        """QEMU 10 from the extracted trixie tree, started through that tree's own dynamic loader."""
        tree = self.path / "qemu"
        firmware = [arg for d in FIRMWARE_DIRS if (tree / d).is_dir() for arg in ("-L", str(tree / d))]
        return [*self._loader("qemu-system-x86_64"), *firmware]
