"""Build an ISO 9660 config drive image (labelled ``config-2``, Rock Ridge + Joliet, like Nova's)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pycdlib

CONFIG_DRIVE_LABEL = "config-2"


def _iso_path(path: PurePosixPath) -> str:
    """ISO 9660 names are upper case letters, digits and ``_``."""
    return "/" + "/".join("".join(c if c.isalnum() else "_" for c in part.upper()) for part in path.parts[1:])


def write_config_drive_image(files: Mapping[str, bytes], out: Path, label: str = CONFIG_DRIVE_LABEL) -> None:
    """``files``: path inside the drive (``openstack/latest/meta_data.json``) -> content."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=label)
    made: set[PurePosixPath] = set()
    for name, content in sorted(files.items()):
        path = PurePosixPath("/", name)
        for directory in reversed(path.parents[:-1]):
            if directory not in made:
                iso.add_directory(_iso_path(directory), rr_name=directory.name, joliet_path=str(directory))
                made.add(directory)
        iso.add_fp(
            io.BytesIO(content),
            len(content),
            _iso_path(path) + ";1",
            rr_name=path.name,
            joliet_path=str(path),
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    iso.write(str(out))
    iso.close()
