"""vfat config drives (Nova's ``config_drive_format=vfat``), made with mtools and read without mounting."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriov_operator.host.node import NodeHost
from sriov_operator.host.openstack.configdrive import BY_LABEL_LINK, read_config_drive, volume_label
from sriov_operator.host.openstack.metadata import MetadataError
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import simulated_io
from tests.support import FIXTURES

pytestmark = pytest.mark.host
DOCUMENTS = ("meta_data.json", "network_data.json")


def mtool(name: str, *argv: str) -> None:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is required to make vfat images (Debian package mtools)")
    subprocess.run([path, *argv], check=True, capture_output=True, timeout=30)


FLOPPY = ("-f", "1440")  # FAT12
FAT16 = ("-T", "131072", "-h", "64", "-s", "32")
FAT32 = (*FAT16, "-F")


def vfat_drive(image: Path, version: str = "latest", geometry: tuple[str, ...] = FLOPPY) -> Path:
    mtool("mformat", "-i", str(image), "-C", *geometry, "-v", "config-2", "::")
    mtool("mmd", "-i", str(image), "::/openstack", f"::/openstack/{version}")
    for name in DOCUMENTS:
        mtool("mcopy", "-i", str(image), str(FIXTURES / "openstack" / name), f"::/openstack/{version}/{name}")
    return image


@pytest.mark.parametrize("geometry", [FLOPPY, FAT16, FAT32], ids=["fat12", "fat16", "fat32"])
def test_a_vfat_drive_is_read_without_mounting(tmp_path: Path, geometry: tuple[str, ...]) -> None:
    image = vfat_drive(tmp_path / "config-2.img", "2018-08-27", geometry)
    assert volume_label(image) == ("vfat", "config-2")
    metadata = read_config_drive(image)
    assert [d.mac for d in metadata.meta_data.devices] == ["fa:16:3e:6b:21:0d", "fa:16:3e:c4:9a:77"]
    assert len(metadata.network_data.networks) == 4


def test_a_vm_with_a_vfat_drive_found_by_label(tmp_path: Path) -> None:
    root = tmp_path / "vm"
    create_host(load_profile("openstack-vm"), root)
    vfat_drive(root / "dev/sr0.vfat")
    (root / "dev/sr0").unlink()
    (root / "dev/sr0.vfat").rename(root / "dev/sr0")
    (root / BY_LABEL_LINK).unlink()  # no udev: found by reading block device labels
    found = NodeHost.open(root, io=simulated_io(root)).discover(checkpoint=False)
    assert found.metadata_source == "configDrive"
    nets = {i.pci_address: i.net_filter for i in found.interfaces}
    assert nets["0000:00:07.0"] == "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab"


@pytest.fixture(scope="module")
def vfat_image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return vfat_drive(tmp_path_factory.mktemp("vfat") / "config-2.img").read_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=40 * 512), st.binary(min_size=1, max_size=4)),
        max_size=10,
    )
)
def test_a_corrupt_vfat_drive_is_a_metadata_error(
    vfat_image: bytes, tmp_path: Path, edits: list[tuple[int, bytes]]
) -> None:
    image = bytearray(vfat_image)
    for offset, data in edits:
        image[offset : offset + len(data)] = data
    path = tmp_path / "fuzzed.img"
    path.write_bytes(bytes(image))
    try:
        read_config_drive(path)
    except MetadataError as error:
        assert "\n" not in str(error) and len(str(error)) < 800
