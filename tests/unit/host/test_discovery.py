"""Discovery of simulated hosts: bare-metal PFs with VFs, and the OpenStack one-function-per-port view."""

from __future__ import annotations

from pathlib import Path

from sriov_operator.host.discovery import discover
from sriov_operator.host.openstack.configdrive import BY_LABEL_LINK
from sriov_operator.host.openstack.ports import save_checkpoint
from sriov_operator.host.platform import detect_platform
from sriov_operator.host.root import PCI_DRIVERS, HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import SimulatedWriter
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.writer import HostWriter
from tests.unit.host.conftest import sim_node

DPDK_NET = "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
MANAGEMENT_NET = "openstack/NetworkID:9e2c4a1b-7d3f-4e8a-b5c6-0f1d2e3a4b5c"
OFFLOAD_NET = "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab"


def test_vm_reports_each_neutron_port_as_a_pf_with_itself_as_vf(vm_host: HostRoot) -> None:
    found = discover(vm_host, detect_platform(vm_host))
    assert (found.platform, found.metadata_source) == ("openstack", "configDrive")
    by_pci = {i.pci_address: i for i in found.interfaces}
    assert sorted(by_pci) == [
        "0000:00:03.0",
        "0000:00:04.0",
        "0000:00:06.0",
        "0000:00:07.0",
    ]  # not virtio-blk
    vhost_user = by_pci["0000:00:04.0"]
    assert (vhost_user.name, vhost_user.driver, vhost_user.net_filter) == ("eth1", "virtio-pci", DPDK_NET)
    assert (vhost_user.num_vfs, vhost_user.totalvfs) == (1, 1)
    assert vhost_user.vfs is not None and [(v.pci_address, v.vf_id) for v in vhost_user.vfs] == [
        ("0000:00:04.0", 0)
    ]
    mellanox = by_pci["0000:00:07.0"]
    assert (mellanox.vendor, mellanox.device_id, mellanox.net_filter) == ("15b3", "101e", OFFLOAD_NET)
    assert mellanox.link_speed == "100000 Mb/s"
    assert found.to_output()["interfaces"][1]["Vfs"][0]["vfID"] == 0  # upstream JSON names


def test_platform_from_provider_id_wins_over_dmi(vm_host: HostRoot, intel_host: HostRoot) -> None:
    assert detect_platform(intel_host) == "baremetal"
    assert detect_platform(intel_host, provider_id="openstack:///3f1c9a52") == "openstack"
    assert detect_platform(vm_host, provider_id="baremetalhost:///metal3/worker-0") == "baremetal"
    assert detect_platform(vm_host, "baremetal") == "baremetal"


def test_vfio_bound_port_keeps_its_last_known_netfilter(vm_host: HostRoot) -> None:
    first = discover(vm_host, "openstack")
    assert first.ports is not None
    save_checkpoint(vm_host, HostWriter(vm_host.root), first.ports)
    writer, runner_kernel = SimulatedWriter(vm_host.root), SimulatedKernel.load(vm_host.root)
    runner_kernel.load_module("vfio", {"enable_unsafe_noiommu_mode": "1"})
    runner_kernel.load_module("vfio_pci", {})
    runner_kernel.save()
    writer.write_attribute(vm_host.path(PCI_DRIVERS, "virtio-pci", "unbind"), "0000:00:04.0")
    writer.write_attribute(vm_host.path("sys/bus/pci/devices/0000:00:04.0/driver_override"), "vfio-pci")
    writer.write_attribute(vm_host.path(PCI_DRIVERS, "vfio-pci", "bind"), "0000:00:04.0")

    again = {i.pci_address: i for i in discover(vm_host, "openstack").interfaces}["0000:00:04.0"]
    assert (again.driver, again.name, again.mac, again.net_filter) == ("vfio-pci", None, None, DPDK_NET)


def test_metadata_is_reread_only_when_the_set_of_nics_changes(tmp_path: Path) -> None:
    profile = load_profile("openstack-vm")
    hot_plugged = next(d for d in profile.devices if d.address == "0000:00:03.0")
    profile.devices.remove(hot_plugged)
    host = HostRoot(tmp_path / "vm")
    create_host(profile, host.root)
    first = discover(host, "openstack")
    assert first.ports is not None and "0000:00:03.0" not in {i.pci_address for i in first.interfaces}
    save_checkpoint(host, HostWriter(host.root), first.ports)

    config_drive = host.root / "dev/sr0"
    image = config_drive.read_bytes()
    config_drive.write_bytes(b"")  # the config drive is unreadable: only the checkpoint can answer
    assert len(discover(host, "openstack").interfaces) == 3

    config_drive.write_bytes(image)
    host.path(BY_LABEL_LINK).unlink()
    kernel = SimulatedKernel.load(host.root)
    kernel.add_device(hot_plugged)
    kernel.save()
    replugged = discover(host, "openstack")
    assert replugged.metadata_source == "configDrive"  # found again by probing labels, no by-label link
    assert {i.pci_address: i.net_filter for i in replugged.interfaces}["0000:00:03.0"] == MANAGEMENT_NET


def test_bare_metal_pfs_with_vfs(intel_host: HostRoot, mellanox_host: HostRoot) -> None:
    found = discover(intel_host, "baremetal")
    assert found.metadata_source == "none"
    assert [(i.name, i.totalvfs, i.num_vfs, i.link_admin_state) for i in found.interfaces] == [
        ("ens1f0", 64, 0, "up"),
        ("ens1f1", 64, 0, "down"),
    ]
    assert found.interfaces[0].link_speed == "25000 Mb/s" and found.interfaces[0].vfs == []

    assert discover(mellanox_host, "baremetal").interfaces[0].e_switch_mode is None  # no devlink: unknown
    mellanox = sim_node(mellanox_host).discover(checkpoint=False).interfaces[0]
    assert (mellanox.e_switch_mode, mellanox.num_vfs, mellanox.link_type) == ("legacy", 2, "ETH")
    assert mellanox.vfs is not None
    assert [(v.vf_id, v.pci_address, v.driver, v.device_id) for v in mellanox.vfs] == [
        (0, "0000:5e:00.2", "mlx5_core", "101e"),
        (1, "0000:5e:00.3", "mlx5_core", "101e"),
    ]
