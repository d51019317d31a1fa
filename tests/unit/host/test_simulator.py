"""The simulated kernel reacts to writes the way the kernel does (the production code relies on it)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from sriov_operator.host.apply import converge
from sriov_operator.host.boot import BOOT_ID
from sriov_operator.host.openstack.ports import CHECKPOINT_FILE
from sriov_operator.host.pci import read_pci_function, vf_address
from sriov_operator.host.plan import plan
from sriov_operator.host.root import (
    PCI_DEVICES,
    PCI_DRIVERS,
    PCI_DRIVERS_PROBE,
    VFIO_NOIOMMU_PARAMETER,
    HostRoot,
)
from sriov_operator.host.simulator.builder import create_host, load_profile, profile_file, profile_names
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner, SimulatedEswitch, SimulatedWriter
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.udev import RULES_PREFIX, UDEV_RULES_DIR, pf_rules
from tests.support import FIXTURES
from tests.unit.host.conftest import sim_node
from tests.unit.host.test_plan_apply import port_spec


def _numvfs(host: HostRoot, pf: str) -> Path:
    return host.path(PCI_DEVICES, pf, "sriov_numvfs")


def test_writing_numvfs_creates_and_removes_vfs(intel_host: HostRoot) -> None:
    writer = SimulatedWriter(intel_host.root)
    writer.write_attribute(_numvfs(intel_host, "0000:3b:00.0"), "4")
    pf = intel_host.path(PCI_DEVICES, "0000:3b:00.0")
    vfs = [intel_host.link_name(pf / f"virtfn{i}") for i in range(4)]
    assert vfs == ["0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3"]
    vf = read_pci_function(intel_host, "0000:3b:02.1")
    assert (vf.driver, vf.device_id) == ("iavf", "154c")
    assert vf.netdev is not None and vf.netdev.name == "ens1f0v1"
    assert intel_host.link_name(vf.path / "physfn") == "0000:3b:00.0"

    writer.write_attribute(_numvfs(intel_host, "0000:3b:00.0"), "0")
    assert not intel_host.path(PCI_DEVICES, "0000:3b:02.0").exists()
    assert not (pf / "virtfn0").exists()


def test_changing_a_nonzero_vf_count_needs_zero_first(intel_host: HostRoot) -> None:
    writer = SimulatedWriter(intel_host.root)
    writer.write_attribute(_numvfs(intel_host, "0000:3b:00.0"), "2")
    with pytest.raises(OSError) as busy:
        writer.write_attribute(_numvfs(intel_host, "0000:3b:00.0"), "3")
    assert busy.value.errno == errno.EBUSY
    with pytest.raises(OSError) as too_many:
        writer.write_attribute(_numvfs(intel_host, "0000:3b:00.1"), "65")
    assert too_many.value.errno == errno.ERANGE


def test_vfio_bind_needs_noiommu_mode_on_a_vm_and_drops_the_netdev(vm_host: HostRoot) -> None:
    writer, runner = SimulatedWriter(vm_host.root), SimulatedCommandRunner(vm_host.root)
    address = "0000:00:04.0"
    writer.write_attribute(vm_host.path(PCI_DRIVERS, "virtio-pci", "unbind"), address)
    assert read_pci_function(vm_host, address).netdev is None
    writer.write_attribute(vm_host.path(PCI_DEVICES, address, "driver_override"), "vfio-pci")
    assert runner(["modprobe", "vfio_pci"]).returncode == 0  # pulls in vfio without no-IOMMU
    assert vm_host.read(vm_host.path(VFIO_NOIOMMU_PARAMETER)) == "N"
    with pytest.raises(OSError) as no_iommu:
        writer.write_attribute(vm_host.path(PCI_DRIVERS, "vfio-pci", "bind"), address)
    assert no_iommu.value.errno == errno.EINVAL

    runner(["modprobe", "vfio", "enable_unsafe_noiommu_mode=1"])
    assert vm_host.read(vm_host.path(VFIO_NOIOMMU_PARAMETER)) == "N", (
        "modprobe ignores options of a loaded module"
    )
    writer.write_attribute(vm_host.path(VFIO_NOIOMMU_PARAMETER), "1")
    writer.write_attribute(vm_host.path(PCI_DRIVERS, "vfio-pci", "bind"), address)
    assert read_pci_function(vm_host, address).driver == "vfio-pci"
    assert [p.name for p in vm_host.path("dev/vfio").iterdir()] == ["noiommu-1"]

    writer.write_attribute(vm_host.path(PCI_DRIVERS, "vfio-pci", "unbind"), address)
    writer.write_attribute(vm_host.path(PCI_DEVICES, address, "driver_override"), "\x00")
    writer.write_attribute(vm_host.path(PCI_DRIVERS_PROBE), address)
    back = read_pci_function(vm_host, address)
    assert back.driver == "virtio-pci"
    assert back.netdev is not None and back.netdev.mac == "fa:16:3e:58:0c:e2"
    assert list(vm_host.path("dev/vfio").iterdir()) == []


def test_bind_without_override_to_a_foreign_driver_is_refused(vm_host: HostRoot) -> None:
    writer = SimulatedWriter(vm_host.root)
    writer.write_attribute(vm_host.path(PCI_DRIVERS, "iavf", "unbind"), "0000:00:06.0")
    with pytest.raises(OSError) as refused:
        writer.write_attribute(vm_host.path(PCI_DRIVERS, "mlx5_core", "bind"), "0000:00:06.0")
    assert refused.value.errno == errno.ENODEV


def test_our_udev_rules_keep_the_pf_name_through_the_reprobe_and_name_the_representors(
    mellanox_host: HostRoot,
) -> None:
    pf = "0000:5e:00.0"
    rules = mellanox_host.path(UDEV_RULES_DIR, f"{RULES_PREFIX}{pf}.rules")
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(pf_rules(pf, "ens2f0np0", 2, None, switchdev=True))
    SimulatedEswitch(mellanox_host.root).set_mode(pf, "switchdev")
    function = read_pci_function(mellanox_host, pf)
    assert function.netdev is not None and function.netdev.name == "ens2f0np0"
    assert function.representors == {0: "ens2f0np0_0", 1: "ens2f0np0_1"}


def test_state_persists_across_writer_objects(intel_host: HostRoot) -> None:
    SimulatedWriter(intel_host.root).write_attribute(_numvfs(intel_host, "0000:3b:00.1"), "3")
    SimulatedWriter(intel_host.root).write_attribute(_numvfs(intel_host, "0000:3b:00.1"), "0")
    assert intel_host.read(_numvfs(intel_host, "0000:3b:00.1")) == "0"
    assert not intel_host.path(PCI_DEVICES, vf_address("0000:3b:00.1", 79)).exists()


def test_switchdev_through_devlink_gives_representors(mellanox_host: HostRoot, intel_host: HostRoot) -> None:
    """Without a udev rule naming them, the re-probed uplink and the representors keep the kernel's names."""
    eswitch = SimulatedEswitch(mellanox_host.root)
    pf = "0000:5e:00.0"
    eswitch.set_mode(pf, "switchdev")
    assert eswitch.mode(pf) == "switchdev"
    net = mellanox_host.path(PCI_DEVICES, pf, "net")
    ports = {d.name: mellanox_host.read(d / "phys_port_name") for d in net.iterdir()}
    assert ports == {"eth0": "p0", "eth1": "pf0vf0", "eth2": "pf0vf1"}  # the PF lost its name
    assert not list(mellanox_host.root.rglob("compat"))  # in-tree mlx5 has no compat/devlink/mode
    function = read_pci_function(mellanox_host, pf)
    assert function.netdev is not None and function.netdev.name == "eth0"
    assert function.representors == {0: "eth1", 1: "eth2"}
    eswitch.set_mode(pf, "legacy")
    assert [d.name for d in net.iterdir()] == ["eth0"]
    with SimulatedKernel.transaction(mellanox_host.root) as kernel:
        kernel.reboot()
    assert [d.name for d in net.iterdir()] == ["ens2f0np0"]  # named at boot again
    with pytest.raises(OSError) as refused:
        SimulatedEswitch(intel_host.root).set_mode("0000:3b:00.0", "switchdev")
    assert refused.value.errno == errno.EOPNOTSUPP


def test_a_profile_can_ask_for_the_compat_devlink_file(tmp_path: Path) -> None:
    profile = load_profile("baremetal-mellanox").model_copy(update={"compat_devlink_mode": True})
    create_host(profile, tmp_path / "ofed")
    SimulatedEswitch(tmp_path / "ofed").set_mode("0000:5e:00.0", "switchdev")
    mode = tmp_path / "ofed" / PCI_DEVICES / "0000:5e:00.0/net/eth0/compat/devlink/mode"  # no rule: renamed
    assert mode.read_text() == "switchdev\n"


def test_unknown_modules_fail_like_modprobe(vm_host: HostRoot) -> None:
    result = SimulatedCommandRunner(vm_host.root)(["modprobe", "igb_uio"])
    assert result.returncode == 1 and "igb_uio" in result.stderr


def test_profiles_ship_the_fixture_metadata_and_refuse_a_used_directory(tmp_path: Path) -> None:
    assert {"openstack-vm", "baremetal-intel", "baremetal-mellanox"} <= set(profile_names())
    for name in ("meta_data.json", "network_data.json"):
        shipped = json.loads(profile_file(f"openstack-vm/{name}"))
        assert shipped == json.loads((FIXTURES / "openstack" / name).read_text())
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    with pytest.raises(FileExistsError):
        create_host(load_profile("openstack-vm"), tmp_path / "used")
    with pytest.raises(ValueError, match="unknown simulator profile"):
        load_profile("nope")


def test_a_reboot_undoes_the_run_time_configuration_and_changes_the_boot_id(vm_host: HostRoot) -> None:
    node = sim_node(vm_host)
    spec = port_spec("0000:00:04.0", "dpdk1", "vfio-pci")
    converge(node.access, spec, node.observe)
    boot_id = vm_host.read(vm_host.path(BOOT_ID))
    checkpoint = json.loads(vm_host.path(CHECKPOINT_FILE).read_text())
    assert checkpoint["bootID"] == boot_id and boot_id

    with SimulatedKernel.transaction(vm_host.root) as kernel:
        kernel.reboot()
    assert vm_host.read(vm_host.path(BOOT_ID)) not in (None, boot_id)
    assert read_pci_function(vm_host, "0000:00:04.0").driver == "virtio-pci"
    assert not vm_host.path("sys/module/vfio").exists() and not list(vm_host.path("dev/vfio").iterdir())
    again = plan(spec, node.observe())
    assert [a.kind for a in again.actions] == ["loadModule", "loadModule", "bindDriver"]  # record kept
    assert json.loads(vm_host.path(CHECKPOINT_FILE).read_text())["bootID"] != boot_id  # metadata re-read
    converge(node.access, spec, node.observe)
    assert read_pci_function(vm_host, "0000:00:04.0").driver == "vfio-pci"


def test_bus_entries_are_symlinks_to_the_device_tree(intel_host: HostRoot) -> None:
    entry = intel_host.path(PCI_DEVICES, "0000:3b:00.0")
    assert entry.is_symlink()
    assert os.readlink(entry) == "../../../devices/pci0000:00/0000:3b:00.0"
