"""Which network each VM port is on: the source the user names, the checkpoint's key, vfio ports, Nova's
addresses, and reads that survive garbage under the host root."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.cli import main
from sriov_operator.host.apply import converge
from sriov_operator.host.discovery import discover
from sriov_operator.host.openstack.metadata import (
    MetaData,
    MetadataError,
    NetworkData,
    OpenStackMetadata,
    parse_metadata_documents,
)
from sriov_operator.host.openstack.netfilter import build_device_info
from sriov_operator.host.openstack.ports import CHECKPOINT_FILE, MetadataSettings
from sriov_operator.host.root import HostFileError, HostRoot
from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from sriov_operator.host.state import CONFIGURED_DIR
from sriov_operator.host.writer import HostWriter
from tests.support import FIXTURES
from tests.unit.host.conftest import sim_node
from tests.unit.host.test_plan_apply import port_spec

DPDK_PORT = "0000:00:04.0"
INTEL_PORT, MLX_PORT = "0000:00:06.0", "0000:00:07.0"
DPDK_NET = "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
INTEL_NET = "openstack/NetworkID:b7e1f3a2-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
MLX_NET = "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab"
MANAGEMENT_NET = "openstack/NetworkID:9e2c4a1b-7d3f-4e8a-b5c6-0f1d2e3a4b5c"


def fixture_metadata() -> tuple[dict[str, object], dict[str, object]]:
    meta = json.loads((FIXTURES / "openstack/meta_data.json").read_text())
    network = json.loads((FIXTURES / "openstack/network_data.json").read_text())
    return meta, network


def config_drive(path: Path, meta: object, network: object) -> Path:
    files = {"openstack/latest/meta_data.json": json.dumps(meta).encode()}
    files["openstack/latest/network_data.json"] = json.dumps(network).encode()
    write_config_drive_image(files, path)
    return path


def filters(host: HostRoot, **settings: object) -> dict[str, str | None]:
    node = sim_node(host, **settings)
    return {i.pci_address: i.net_filter for i in node.discover(checkpoint=True).interfaces}


def test_a_config_drive_the_user_names_wins_over_the_checkpoint(vm_host: HostRoot, tmp_path: Path) -> None:
    assert filters(vm_host)[INTEL_PORT] == INTEL_NET  # checkpoint written from the host's own drive
    meta, network = fixture_metadata()
    network["networks"][2]["network_id"] = "11111111-2222-4333-8444-555555555555"  # type: ignore[index]
    other = config_drive(tmp_path / "other.iso", meta, network)
    chosen = filters(vm_host, metadata=MetadataSettings(config_drive=other))
    assert chosen[INTEL_PORT] == "openstack/NetworkID:11111111-2222-4333-8444-555555555555"
    assert json.loads(vm_host.path(CHECKPOINT_FILE).read_text())["origin"] == f"configDrive:{other}"
    assert filters(vm_host)[INTEL_PORT] == chosen[INTEL_PORT]  # no choice made: the checkpoint serves


def test_a_port_swap_at_the_same_slot_is_read_again(vm_host: HostRoot) -> None:
    assert (filters(vm_host)[INTEL_PORT], filters(vm_host)[MLX_PORT]) == (INTEL_NET, MLX_NET)
    intel = vm_host.path(f"sys/bus/pci/devices/{INTEL_PORT}/net/ens6/address")
    mellanox = vm_host.path(f"sys/bus/pci/devices/{MLX_PORT}/net/ens7/address")
    intel_mac, mellanox_mac = intel.read_text(), mellanox.read_text()
    intel.write_text(mellanox_mac)
    mellanox.write_text(intel_mac)
    assert (filters(vm_host)[INTEL_PORT], filters(vm_host)[MLX_PORT]) == (MLX_NET, INTEL_NET)


def test_a_vfio_port_survives_a_deleted_checkpoint(vm_host: HostRoot) -> None:
    node = sim_node(vm_host)
    converge(node.access, port_spec(DPDK_PORT, "dpdk1", "vfio-pci"), node.observe)
    vm_host.path(CHECKPOINT_FILE).unlink()
    port = {i.pci_address: i for i in node.discover(checkpoint=False).interfaces}[DPDK_PORT]
    assert (port.driver, port.net_filter) == ("vfio-pci", DPDK_NET)


def nova(devices: list[dict[str, str]], network: dict[str, object]) -> OpenStackMetadata:
    return OpenStackMetadata(
        meta_data=MetaData.model_validate({"devices": devices}),
        network_data=NetworkData.model_validate(network),
    )


def test_a_nova_address_is_taken_only_when_nothing_contradicts_it() -> None:
    _, network = fixture_metadata()
    wrong = {"type": "nic", "bus": "pci", "address": "0000:00:03.0", "mac": "fa:16:3e:6b:21:0d"}
    nics = {"0000:00:03.0": "fa:16:3e:10:20:30", INTEL_PORT: None}  # the Intel VF has no netdev now
    info = build_device_info(nova([wrong], network), nics, {})
    assert info["0000:00:03.0"].net_filter == MANAGEMENT_NET  # eth0 is not relabelled
    assert INTEL_PORT not in info
    right = {**wrong, "address": INTEL_PORT}
    assert build_device_info(nova([right], network), nics, {})[INTEL_PORT].net_filter == INTEL_NET


def test_discover_writes_nothing(vm_host: HostRoot, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(str(p) for p in vm_host.root.rglob("*"))
    assert main(["discover", "--host-root", str(vm_host.root), "--simulate"]) == 0
    assert json.loads(capsys.readouterr().out)["metadataSource"] == "configDrive"
    assert sorted(str(p) for p in vm_host.root.rglob("*")) == before


def test_reads_never_block_on_fifos_or_devices_and_are_capped(intel_host: HostRoot) -> None:
    first, second = (intel_host.path(f"sys/bus/pci/devices/0000:3b:00.{n}") for n in (0, 1))
    (first / "sriov_totalvfs").unlink()
    os.mkfifo(first / "sriov_totalvfs")  # opening it for reading would wait for a writer forever
    (second / "vendor").unlink()
    os.mknod(second / "vendor", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero: never ends
    (second / "device").write_text("0x158b\n" + " " * 200_000)
    found = {i.pci_address: i for i in discover(intel_host, "baremetal").interfaces}
    assert "0000:3b:00.0" not in found  # no readable sriov_totalvfs: not an SR-IOV PF
    assert (found["0000:3b:00.1"].vendor, found["0000:3b:00.1"].device_id) == (None, None)
    assert found["0000:3b:00.1"].totalvfs == 64


def test_garbage_in_sysfs_is_ignored(intel_host: HostRoot) -> None:
    pf = intel_host.path("sys/bus/pci/devices/0000:3b:00.1")
    (pf / "virtfnX").symlink_to("../0000:3b:10.0")
    (pf / "virtfn1").symlink_to("../../../../../tmp")
    (pf / "sriov_numvfs").write_text("many\n")
    found = {i.pci_address: i for i in discover(intel_host, "baremetal").interfaces}
    assert (found["0000:3b:00.1"].num_vfs, found["0000:3b:00.1"].vfs) == (0, [])


def test_a_checkpoint_of_the_wrong_shape_is_read_again(
    vm_host: HostRoot, caplog: pytest.LogCaptureFixture
) -> None:
    for garbage in ('{"devices": []}', "[1, 2]", '{"source": "configDrive", "nics": {"../x": null}}', "\x00"):
        HostWriter(vm_host.root).write_file(vm_host.path(CHECKPOINT_FILE), garbage)
        with caplog.at_level(logging.WARNING):
            assert filters(vm_host)[DPDK_PORT] == DPDK_NET
        assert "not a checkpoint we wrote" in caplog.text
        caplog.clear()


@pytest.mark.parametrize(
    "garbage", ["[]", '{"pciAddress": 7}', "{", "\udcff", '{"pciAddress": "0000:00:04.0", "x": 1}']
)
def test_a_record_of_the_wrong_shape_is_a_clear_error(vm_host: HostRoot, garbage: str) -> None:
    record = vm_host.path(CONFIGURED_DIR, f"{DPDK_PORT}.json")
    record.parent.mkdir(parents=True)
    record.write_bytes(garbage.encode(errors="surrogateescape"))
    node = sim_node(vm_host)
    with pytest.raises(HostFileError, match=rf"{DPDK_PORT}\.json: .*remove it"):
        converge(node.access, SriovNetworkNodeStateSpec(), node.observe)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            b'{"devices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "meta_data.json is not valid JSON: nested too deeply",
        ),
        (
            b'{"devices": [], "n": ' + b"9" * 10_000 + b"}",
            "meta_data.json is not valid JSON: Exceeds the limit",
        ),
        (b'{"devices": [{"type": "nic", "address": 7}]}', "unexpected metadata shape at devices.0.address"),
        (b"\x00\xff", "meta_data.json is not valid JSON"),
    ],
)
def test_hostile_metadata_documents_are_one_line_errors(document: bytes, words: str) -> None:
    network = (FIXTURES / "openstack/network_data.json").read_bytes()
    with pytest.raises(MetadataError) as caught:
        parse_metadata_documents(document, network, "drive:/openstack/latest/")
    assert words in str(caught.value) and "\n" not in str(caught.value) and len(str(caught.value)) < 500


def test_a_nova_address_that_is_a_path_is_never_used() -> None:
    _, network = fixture_metadata()
    hostile = {"type": "nic", "bus": "pci", "address": "../../../tmp/x", "mac": "fa:16:3e:6b:21:0d"}
    assert build_device_info(nova([hostile], network), {INTEL_PORT: None}, {}) == {}
