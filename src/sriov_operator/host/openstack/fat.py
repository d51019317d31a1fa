"""Read one file from a FAT12/16/32 volume (Nova's vfat config drive) without mounting it.

Only what a config drive needs: directories by long (VFAT) or short name, files
by cluster chain.  Every structure read is checked against the image's size,
chains are bounded and loop-free, and anything inconsistent is a FatError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

DIRECTORY_ENTRY = 32
LONG_NAME = 0x0F
DIRECTORY = 0x10
VOLUME_LABEL = 0x08
DELETED = 0xE5
FAT12_MAX_CLUSTERS = 4085
FAT16_MAX_CLUSTERS = 65525
MAX_DIRECTORY_BYTES = 1024 * 1024


class FatError(ValueError):
    """The volume is not a FAT file system we can read, or is corrupt."""


@dataclass(frozen=True)
class _Entry:
    name: str
    is_directory: bool
    cluster: int
    size: int


@dataclass(frozen=True)
class FatVolume:
    stream: BinaryIO
    sector: int
    cluster_bytes: int
    fat_offset: int
    data_offset: int
    root_offset: int  # FAT12/16: the fixed root directory
    root_bytes: int
    root_cluster: int  # FAT32: the root directory's first cluster
    bits: int
    clusters: int

    @classmethod
    def open(cls, stream: BinaryIO) -> FatVolume:
        boot = _read(stream, 0, 512)
        sector, per_cluster, reserved, fats, root_entries, total16 = struct.unpack_from("<HBHBHH", boot, 11)
        fat16_size, total32, fat32_size, root_cluster = (
            struct.unpack_from("<H", boot, 22)[0],
            struct.unpack_from("<I", boot, 32)[0],
            struct.unpack_from("<I", boot, 36)[0],
            struct.unpack_from("<I", boot, 44)[0],
        )
        if sector not in (512, 1024, 2048, 4096) or per_cluster == 0 or per_cluster & (per_cluster - 1):
            raise FatError("not a FAT volume (bad sector or cluster size)")
        fat_size = fat16_size or fat32_size
        total = total16 or total32
        root_bytes = root_entries * DIRECTORY_ENTRY
        root_offset = (reserved + fats * fat_size) * sector
        data_offset = root_offset + -(-root_bytes // sector) * sector
        if fats == 0 or fat_size == 0 or total * sector <= data_offset:
            raise FatError("not a FAT volume (no FAT or no data area)")
        clusters = (total * sector - data_offset) // (per_cluster * sector)
        bits = 12 if clusters < FAT12_MAX_CLUSTERS else 16 if clusters < FAT16_MAX_CLUSTERS else 32
        return cls(
            stream, sector, per_cluster * sector, reserved * sector, data_offset, root_offset, root_bytes,
            root_cluster, bits, clusters,
        )  # fmt: skip

    def _next(self, cluster: int) -> int | None:
        if self.bits == 12:
            raw = struct.unpack("<H", _read(self.stream, self.fat_offset + cluster * 3 // 2, 2))[0]
            value, end = (raw >> 4 if cluster & 1 else raw & 0xFFF), 0xFF8
        elif self.bits == 16:
            value, end = struct.unpack("<H", _read(self.stream, self.fat_offset + cluster * 2, 2))[0], 0xFFF8
        else:
            raw = struct.unpack("<I", _read(self.stream, self.fat_offset + cluster * 4, 4))[0]
            value, end = raw & 0x0FFFFFFF, 0x0FFFFFF8
        return None if value >= end else value

    def _chain(self, first: int, max_bytes: int) -> bytes:
        data, seen = bytearray(), set()
        cluster: int | None = first
        while cluster is not None:
            if not 2 <= cluster < self.clusters + 2 or cluster in seen:
                raise FatError(f"broken cluster chain at {cluster}")
            if len(data) >= max_bytes:
                raise FatError(f"more than {max_bytes} bytes")
            seen.add(cluster)
            data += _read(
                self.stream, self.data_offset + (cluster - 2) * self.cluster_bytes, self.cluster_bytes
            )
            cluster = self._next(cluster)
        return bytes(data)

    def _entries(self, directory: _Entry | None) -> list[_Entry]:
        if directory is not None:
            raw = self._chain(directory.cluster, MAX_DIRECTORY_BYTES)
        elif self.bits == 32:
            raw = self._chain(self.root_cluster, MAX_DIRECTORY_BYTES)
        else:
            raw = _read(self.stream, self.root_offset, self.root_bytes)
        return list(_parse_directory(raw))

    def read_file(self, path: str, max_bytes: int) -> bytes | None:
        """The file at ``path`` (``/openstack/latest/meta_data.json``), None if absent."""
        directory: _Entry | None = None
        parts = [part for part in path.split("/") if part]
        for index, part in enumerate(parts):
            found = next((e for e in self._entries(directory) if e.name.lower() == part.lower()), None)
            if found is None or found.is_directory != (index < len(parts) - 1):
                return None
            directory = found
        if directory is None:
            return None
        if directory.size > max_bytes:
            raise FatError(f"{path}: {directory.size} bytes, more than {max_bytes}")
        return (
            self._chain(directory.cluster, max_bytes + self.cluster_bytes)[: directory.size]
            if directory.size
            else b""
        )


def _read(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    data = stream.read(size)
    if len(data) != size:
        raise FatError(f"truncated volume (wanted {size} bytes at {offset})")
    return data


def _parse_directory(raw: bytes) -> list[_Entry]:
    entries: list[_Entry] = []
    long_name: list[str] = []
    for offset in range(0, len(raw) - DIRECTORY_ENTRY + 1, DIRECTORY_ENTRY):
        entry = raw[offset : offset + DIRECTORY_ENTRY]
        if entry[0] == 0:
            break
        attributes = entry[11]
        if entry[0] == DELETED:
            long_name = []
        elif attributes == LONG_NAME:
            chars = (entry[1:11] + entry[14:26] + entry[28:32]).decode("utf-16-le", "replace")
            long_name.insert(0, chars.split("\x00", 1)[0])
        elif not attributes & VOLUME_LABEL:
            base, extension = entry[:8].decode("latin-1").rstrip(), entry[8:11].decode("latin-1").rstrip()
            short = f"{base}.{extension}" if extension else base
            cluster = struct.unpack_from("<H", entry, 20)[0] << 16 | struct.unpack_from("<H", entry, 26)[0]
            size = struct.unpack_from("<I", entry, 28)[0]
            entries.append(_Entry("".join(long_name) or short, bool(attributes & DIRECTORY), cluster, size))
            long_name = []
        else:
            long_name = []
    return entries
