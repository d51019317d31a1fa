"""The host root is a boundary: writes stay inside it, paths from files are checked, one applier at a time.

Hostile trees are built on the simulator's layout and driven through the
production writer (plain file writes, no kernel reactions) as well as the
simulator's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec, VfGroup
from sriov_operator.errors import BadInputError, HostError
from sriov_operator.host.actions import (
    Action,
    BindDriver,
    ForgetDevice,
    RememberDevice,
    SetModuleParameter,
    SetNumVfs,
)
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.io import real_host_io
from sriov_operator.host.lock import HostLockedError, host_lock
from sriov_operator.host.netlink import NetlinkLinkControl
from sriov_operator.host.netns import CURRENT_NETNS, NetnsRequiredError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, PlanError, plan
from sriov_operator.host.root import OPERATOR_STATE_DIR, VFIO_NOIOMMU_PARAMETER, HostRoot, OutsideRootError
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.state import CONFIGURED_DIR, DeviceRecord
from sriov_operator.host.writer import HostWriter
from tests.unit.host.conftest import sim_node

PF = "0000:3b:00.0"
PORT = "0000:00:04.0"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every host root of the test: it must never change."""
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    return victim


def redirect(link: Path, target: Path) -> None:
    if link.is_dir() and not link.is_symlink():
        for child in link.iterdir():
            child.unlink()
        link.rmdir()
    else:
        link.unlink(missing_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def real_io_node(host: HostRoot) -> NodeHost:
    return NodeHost.open(host.root, io=real_host_io(host.root, CURRENT_NETNS))


@pytest.mark.parametrize(
    ("relative", "action"),
    [
        (f"sys/bus/pci/devices/{PF}/sriov_numvfs", SetNumVfs(PF, 4, reason="t")),
        (f"sys/bus/pci/devices/{PF}/driver_override", BindDriver(PF, "vfio-pci", reason="t")),
        ("sys/bus/pci/drivers/i40e/unbind", BindDriver(PF, "vfio-pci", reason="t")),
        (VFIO_NOIOMMU_PARAMETER, SetModuleParameter("vfio", "x=1", reason="t")),
    ],
)
def test_a_symlinked_attribute_is_never_written_through(
    intel_host: HostRoot, outside: Path, relative: str, action: Action
) -> None:
    (intel_host.path("sys/module/vfio")).mkdir(parents=True, exist_ok=True)
    redirect(intel_host.path(relative), outside)
    for node in (real_io_node(intel_host), sim_node(intel_host)):
        with pytest.raises(OutsideRootError, match="outside the host root"):
            apply_plan(node.access, Plan((action,)))
    assert outside.read_text() == "precious\n"


def test_a_symlinked_records_directory_is_refused(intel_host: HostRoot, outside: Path) -> None:
    redirect(intel_host.path(CONFIGURED_DIR), outside.parent)
    remember = RememberDevice(PF, DeviceRecord(pci_address=PF), reason="t")
    with pytest.raises(OutsideRootError):
        apply_plan(real_io_node(intel_host).access, Plan((remember,)))
    with pytest.raises(OutsideRootError):
        HostWriter(intel_host.root).remove_file(intel_host.path(CONFIGURED_DIR, "victim"))
    assert sorted(p.name for p in outside.parent.iterdir()) == ["victim"]


def test_a_symlinked_record_file_is_removed_itself_not_its_target(
    intel_host: HostRoot, outside: Path
) -> None:
    record = intel_host.path(CONFIGURED_DIR, f"{PF}.json")
    redirect(record, outside)
    HostWriter(intel_host.root).remove_file(record)
    assert not record.is_symlink() and outside.read_text() == "precious\n"


def test_a_record_whose_pci_address_is_a_path_is_refused(vm_host: HostRoot, tmp_path: Path) -> None:
    victim = tmp_path / "x.json"
    victim.write_text("{}")
    traversal = os.path.relpath(tmp_path / "x", vm_host.path(CONFIGURED_DIR))
    record = vm_host.path(CONFIGURED_DIR, "0000:00:09.0.json")
    HostWriter(vm_host.root).write_file(record, json.dumps({"pciAddress": traversal}))
    node = sim_node(vm_host)
    with pytest.raises(HostError, match=r"0000:00:09\.0\.json: pciAddress .* does not match the file name"):
        converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    forget = ForgetDevice(traversal, reason="t")
    with pytest.raises(HostError, match="is not a PCI address"):
        apply_plan(node.access, Plan((forget,)))
    assert victim.exists()


@pytest.mark.parametrize("address", ["../../../../tmp/x", "0000:3B:00.0", "0000:3b:00.8", "3b:00.0", ""])
def test_a_spec_pci_address_must_be_one(intel_host: HostRoot, address: str) -> None:
    spec = SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=address, num_vfs=1)])
    with pytest.raises(
        PlanError, match=r"spec.interfaces\[0\].pciAddress: .* is not a PCI address; accepted"
    ):
        plan(spec, sim_node(intel_host).observe())


def test_netlink_on_a_tree_needs_an_explicit_namespace(intel_host: HostRoot) -> None:
    node = NodeHost.open(intel_host.root)  # real I/O, a root that is not /
    assert node.discover(checkpoint=False).interfaces  # reading the tree needs no link
    with pytest.raises(NetnsRequiredError, match="--netns: required with --host-root") as caught:
        node.observe()
    assert isinstance(caught.value, BadInputError)
    with pytest.raises(NetnsRequiredError):
        node.access.links.set_mtu("ens1f0", 9000)
    assert real_host_io(Path("/")).links == NetlinkLinkControl(None)
    assert real_host_io(intel_host.root, CURRENT_NETNS).links == NetlinkLinkControl(None)
    assert real_host_io(intel_host.root, "/proc/1/ns/net").links == NetlinkLinkControl("/proc/1/ns/net")


def test_a_second_applier_waits_then_fails_clearly(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    access = dataclasses.replace(node.access, lock_timeout_seconds=0.3)
    spec = SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=PF, num_vfs=2)])
    with host_lock(node.host, node.access.writer, 1.0):
        with pytest.raises(HostLockedError, match=f"/{OPERATOR_STATE_DIR}/apply.lock: another apply holds"):
            converge(access, spec, node.observe)
        assert node.discover(checkpoint=False).interfaces[0].num_vfs == 0
    assert converge(access, spec, node.observe)  # released: the next applier goes ahead


def test_simulated_kernel_changes_from_two_threads_are_both_kept(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    links = node.access.links

    def raise_mtu(ifname: str) -> None:
        for mtu in range(1600, 1640):
            links.set_mtu(ifname, mtu)

    threads = [threading.Thread(target=raise_mtu, args=(name,)) for name in ("ens1f0", "ens1f1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mtus = {i.name: i.mtu for i in node.discover(checkpoint=False).interfaces}
    assert mtus == {"ens1f0": 1639, "ens1f1": 1639}
    assert SimulatedKernel.load(intel_host.root).state.devices  # the state file is whole


def port_spec(pci: str, device_type: str = "vfio-pci") -> SriovNetworkNodeStateSpec:
    group = VfGroup.model_validate({"resourceName": "r", "deviceType": device_type, "vfRange": "0-0"})
    return SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=pci, num_vfs=1, vf_groups=[group])])


def test_the_default_route_port_is_not_taken_for_dpdk(vm_host: HostRoot) -> None:
    with pytest.raises(PlanError, match=r"0000:00:03\.0 \(eth0\): refusing bindDriver .*default route"):
        plan(port_spec("0000:00:03.0"), sim_node(vm_host).observe())
    allowed = sim_node(vm_host, allow_node_links=["eth0"])
    assert [a.kind for a in plan(port_spec("0000:00:03.0"), allowed.observe()).actions][-1] == "bindDriver"
    assert plan(port_spec(PORT), sim_node(vm_host).observe()).actions  # other ports are fine


def test_the_node_ip_link_is_guarded_too(intel_host: HostRoot) -> None:
    kernel = SimulatedKernel.load(intel_host.root)
    netdev = kernel.state.devices[PF].netdev
    assert netdev is not None
    netdev.addresses = ["198.51.100.7"]
    kernel.save()
    spec = SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=PF, num_vfs=4)])
    assert plan(spec, sim_node(intel_host).observe()).actions
    with pytest.raises(PlanError, match=r"\(ens1f0\): refusing setNumVfs .*node's IP 198\.51\.100\.7"):
        plan(spec, sim_node(intel_host, node_ips=["198.51.100.7"]).observe())
