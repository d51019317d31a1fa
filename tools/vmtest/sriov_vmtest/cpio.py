"""Write a ``newc`` cpio archive (the initramfs format) from a directory: no cpio program needed."""

from __future__ import annotations

import os
import stat
from io import BufferedIOBase
from pathlib import Path

TRAILER = "TRAILER!!!"


def _header(name: bytes, mode: int, size: int, inode: int) -> bytes:
    fields = [inode, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(f"{value:08X}".encode() for value in fields)


def _pad(stream: BufferedIOBase, written: int) -> None:
    stream.write(b"\0" * (-written % 4))


def _entry(stream: BufferedIOBase, name: str, mode: int, data: bytes, inode: int) -> None:
    encoded = name.encode()
    header = _header(encoded, mode, len(data), inode) + encoded + b"\0"
    stream.write(header)
    _pad(stream, len(header))
    stream.write(data)
    _pad(stream, len(data))


def write_newc(source: Path, out: BufferedIOBase) -> None:
    """Every directory, file and symlink under ``source``, owned by root, modes kept."""
    paths = sorted(source.rglob("*"))
    for inode, path in enumerate(paths, start=1):
        info = path.lstat()
        name = path.relative_to(source).as_posix()
        if stat.S_ISLNK(info.st_mode):
            _entry(out, name, info.st_mode, os.readlink(path).encode(), inode)
        elif stat.S_ISDIR(info.st_mode):
            _entry(out, name, info.st_mode, b"", inode)
        else:
            _entry(out, name, info.st_mode, path.read_bytes(), inode)
    _entry(out, TRAILER, 0, b"", 0)
