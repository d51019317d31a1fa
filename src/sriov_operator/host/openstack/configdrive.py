"""Read Nova's config drive (a block device labelled ``config-2``) without mounting it.

Mounting fails on some immutable hosts, so the image is read straight from the
device (or an image file): ISO 9660 with pycdlib, vfat with our FAT reader.  Devices are found through
``/dev/disk/by-label/config-2`` or, where udev does not maintain that link, by
reading the volume label of every block device ourselves.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from sriov_operator.host.openstack.fat import FatError, FatVolume
from sriov_operator.host.openstack.metadata import (
    META_DATA_FILE,
    METADATA_VERSIONS,
    NETWORK_DATA_FILE,
    MetadataError,
    OpenStackMetadata,
    parse_metadata_documents,
)
from sriov_operator.host.root import CLASS_BLOCK, HostRoot

CONFIG_DRIVE_LABEL = "config-2"
BY_LABEL_LINK = "dev/disk/by-label/" + CONFIG_DRIVE_LABEL
ISO_PRIMARY_DESCRIPTOR_OFFSET = 16 * 2048
ISO_VOLUME_ID = slice(40, 72)
FAT_LABELS = (slice(43, 54), slice(71, 82))  # FAT12/16 and FAT32 boot sector volume labels
MAX_FILE_BYTES = 1024 * 1024  # metadata documents are kilobytes


def _open_volume(device: Path) -> BinaryIO:
    """A block device or image file, opened without blocking; OSError for anything else (a FIFO…)."""
    if not _is_volume(os.stat(device).st_mode):
        raise OSError(f"{device}: not a block device or image file")
    fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    if not _is_volume(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{device}: not a block device or image file")
    return os.fdopen(fd, "rb")


def _is_volume(mode: int) -> bool:
    return stat.S_ISBLK(mode) or stat.S_ISREG(mode)


def volume_label(device: Path) -> tuple[str, str] | None:
    """(filesystem, label) of an ISO 9660 or FAT volume, or None if neither / unreadable."""
    try:
        with _open_volume(device) as stream:
            boot = stream.read(512)
            stream.seek(ISO_PRIMARY_DESCRIPTOR_OFFSET)
            descriptor = stream.read(2048)
    except OSError:
        return None
    if descriptor[1:6] == b"CD001":
        return "iso9660", descriptor[ISO_VOLUME_ID].decode("ascii", "replace").strip()
    if boot[510:512] == b"\x55\xaa":
        for label in FAT_LABELS:
            text = boot[label].decode("ascii", "replace").strip()
            if text.lower() == CONFIG_DRIVE_LABEL:
                return "vfat", text
    return None


def find_config_drive(host: HostRoot) -> Path | None:
    """The config drive's device under the host root, or None."""
    linked = host.resolve_link(host.path(BY_LABEL_LINK))
    if linked is not None and linked.exists():
        return linked
    for name in host.names(host.path(CLASS_BLOCK)):
        device = host.path("dev", name)
        found = volume_label(device)
        if found is not None and found[1].lower() == CONFIG_DRIVE_LABEL:
            return device
    return None


def _iso_reader(stream: BinaryIO, device: Path) -> Callable[[str], bytes | None]:
    """A file by its Rock Ridge or Joliet name (Nova writes both; plain ISO 9660 names are 8.3)."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(stream)

    def read(path: str) -> bytes | None:
        for name in ({"rr_path": path}, {"joliet_path": path}):
            try:
                size = iso.get_record(**name).get_data_length()
            except PyCdlibException:
                continue
            if size > MAX_FILE_BYTES:
                raise MetadataError(f"{device}:{path}: {size} bytes, more than {MAX_FILE_BYTES}; refusing it")
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, **name)
            return out.getvalue()
        return None

    return read


def _fat_reader(stream: BinaryIO, device: Path) -> Callable[[str], bytes | None]:
    volume = FatVolume.open(stream)
    return lambda path: volume.read_file(path, MAX_FILE_BYTES)


READERS = {"iso9660": _iso_reader, "vfat": _fat_reader}


def read_config_drive(device: Path) -> OpenStackMetadata:
    """The metadata on an ISO 9660 or vfat config drive, read without mounting it."""
    found = volume_label(device)
    if found is None:
        raise MetadataError(f"{device}: not a config drive (no ISO 9660 or FAT volume label)")
    try:
        with _open_volume(device) as stream:
            read = READERS[found[0]](stream, device)
            for version in METADATA_VERSIONS:
                directory = f"/openstack/{version}/"
                meta, network = read(directory + META_DATA_FILE), read(directory + NETWORK_DATA_FILE)
                if meta is not None and network is not None:
                    return parse_metadata_documents(meta, network, f"{device}:{directory}")
    except MetadataError:
        raise
    except (OSError, PyCdlibException, FatError) as error:
        raise MetadataError(f"{device}: cannot read the config drive image: {str(error)[:200]}") from None
    except Exception as error:  # pycdlib on a corrupt image: struct.error, KeyError, IndexError, …
        problem = f"{type(error).__name__}: {str(error)[:200]}"
        raise MetadataError(f"{device}: corrupt config drive image ({problem})") from None
    versions = ", ".join(f"openstack/{v}/" for v in METADATA_VERSIONS)
    raise MetadataError(
        f"{device}: config drive has no {META_DATA_FILE} and {NETWORK_DATA_FILE} in {versions}"
    )
