"""Plan and apply against simulated hosts: the seed's DPDK and hardware-offload cases, bare metal, failures.

The desired NodeState specs are written by hand here (the policy engine that
derives them from policies is another component).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec, VfGroup
from sriov_operator.host.actions import BindDriver, SetNumVfs
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.pci import read_pci_function
from sriov_operator.host.plan import Plan, PlanError, plan
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.root import VFIO_NOIOMMU_PARAMETER, HostRoot
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner, SimulatedWriter
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.state import KernelModules
from sriov_operator.host.udev import VfLayout, pf_rules
from tests.unit.host.conftest import sim_node

DPDK_PORT = "0000:00:04.0"  # the vhost-user virtio port on network 55a54d05-…
OFFLOAD_PORT = "0000:00:07.0"  # the Mellanox VF on network c0ffee00-…
DPDK_NET = "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"


def port_spec(pci: str, resource: str, device_type: str, is_rdma: bool = False) -> SriovNetworkNodeStateSpec:
    group = VfGroup.model_validate(
        {
            "resourceName": resource,
            "deviceType": device_type,
            "vfRange": "0-0",
            "policyName": resource,
            "isRdma": is_rdma,
        }
    )
    return SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=pci, num_vfs=1, vf_groups=[group])])


class CountingWriter(SimulatedWriter):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[str] = []

    def write_attribute(self, path: Path, value: str) -> None:
        self.writes.append(f"{path}={value!r}")
        super().write_attribute(path, value)

    def write_file(self, path: Path, text: str) -> None:
        self.writes.append(str(path))
        super().write_file(path, text)


class CountingRunner(SimulatedCommandRunner):
    calls: list[list[str]]

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        self.calls.append(list(argv))
        return super().__call__(argv)


def counting(node: NodeHost) -> tuple[NodeHost, CountingWriter, CountingRunner]:
    writer, runner = CountingWriter(node.host.root), CountingRunner(node.host.root)
    object.__setattr__(runner, "calls", [])
    access = dataclasses.replace(node.access, writer=writer, run=runner)
    return dataclasses.replace(node, access=access), writer, runner


def test_seed_dpdk_policy_binds_the_vhost_user_port_to_vfio_in_noiommu_mode(vm_host: HostRoot) -> None:
    node = sim_node(vm_host)
    desired = port_spec(DPDK_PORT, "dpdk1", "vfio-pci")
    first = plan(desired, node.observe())
    assert [(a.kind, a.target, a.shown_value()) for a in first.actions] == [
        ("loadModule", "vfio", "enable_unsafe_noiommu_mode=1"),
        ("loadModule", "vfio_pci", None),
        ("rememberDevice", DPDK_PORT, {**desired.interfaces[0].to_k8s(), "mac": "fa:16:3e:58:0c:e2"}),  # type: ignore[index]
        ("bindDriver", DPDK_PORT, "vfio-pci"),
    ]
    assert (first.requires_drain, first.requires_reboot) == (False, False)

    apply_plan(node.access, first)
    port = {i.pci_address: i for i in node.discover(checkpoint=True).interfaces}[DPDK_PORT]
    assert (port.driver, port.name, port.net_filter) == ("vfio-pci", None, DPDK_NET)
    assert vm_host.read(vm_host.path(VFIO_NOIOMMU_PARAMETER)) == "Y"
    assert [p.name for p in vm_host.path("dev/vfio").iterdir()] == ["noiommu-1"]

    quiet, writer, runner = counting(node)
    assert plan(desired, quiet.observe()).actions == ()
    assert converge(quiet.access, desired, quiet.observe) == []
    assert (writer.writes, runner.calls) == ([], [])

    back = plan(SriovNetworkNodeStateSpec(), node.observe())
    assert [(a.kind, a.target, a.shown_value(), a.requires) for a in back.actions] == [
        ("bindDriver", DPDK_PORT, "default", "drain"),
        ("forgetDevice", DPDK_PORT, None, "none"),
    ]
    apply_plan(node.access, back)
    restored = read_pci_function(vm_host, DPDK_PORT)
    assert restored.driver == "virtio-pci"
    assert restored.netdev is not None and restored.netdev.mac == "fa:16:3e:58:0c:e2"
    assert plan(SriovNetworkNodeStateSpec(), node.observe()).actions == ()


def test_hwoffload_keeps_the_mellanox_vf_on_its_netdevice_driver(vm_host: HostRoot) -> None:
    # The seed's hwoffload1 policy selects network 55a54d05-… (its author reused the DPDK example's id);
    # in these fixtures the offloaded Mellanox VF is on c0ffee00-…, so its spec entry is that port.
    node = sim_node(vm_host)
    desired = port_spec(OFFLOAD_PORT, "hwoffload1", "netdevice", is_rdma=True)
    outcomes = converge(node.access, desired, node.observe)
    assert [o.action.kind for o in outcomes] == ["rememberDevice"]
    offload = read_pci_function(vm_host, OFFLOAD_PORT)
    assert offload.driver == "mlx5_core" and offload.netdev is not None
    assert not vm_host.path("sys/module/vfio").exists()


def test_vfio_loaded_without_noiommu_gets_the_parameter_set_and_verified(vm_host: HostRoot) -> None:
    SimulatedCommandRunner(vm_host.root)(["modprobe", "vfio_pci"])  # loads vfio with the option off
    node = sim_node(vm_host)
    steps = plan(port_spec(DPDK_PORT, "dpdk1", "vfio-pci"), node.observe())
    assert [(a.kind, a.target) for a in steps.actions][:1] == [("setModuleParameter", "vfio")]
    apply_plan(node.access, steps)
    assert vm_host.read(vm_host.path(VFIO_NOIOMMU_PARAMETER)) == "Y"
    assert read_pci_function(vm_host, DPDK_PORT).driver == "vfio-pci"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_vfs": 2}, "numVfs must be 1"),
        ({"e_switch_mode": "switchdev"}, "eSwitchMode"),
        ({"pci_address": "0000:00:09.0"}, "not found on this host"),
    ],
)
def test_virtual_platform_rules_are_enforced(
    vm_host: HostRoot, change: dict[str, object], message: str
) -> None:
    spec = port_spec(DPDK_PORT, "dpdk1", "vfio-pci")
    bad = spec.interfaces[0].model_copy(update=change)  # type: ignore[index]
    with pytest.raises(PlanError, match=message):
        plan(SriovNetworkNodeStateSpec(interfaces=[bad]), sim_node(vm_host).observe())


def test_bind_without_iommu_or_noiommu_says_so(vm_host: HostRoot) -> None:
    node = sim_node(vm_host)
    SimulatedCommandRunner(vm_host.root)(["modprobe", "vfio_pci"])
    bind = BindDriver(DPDK_PORT, "vfio-pci", requires="none", reason="test")
    with pytest.raises(ApplyError, match="IOMMU not enabled"):
        apply_plan(node.access, Plan((bind,)))


def intel_spec(num_vfs: int) -> SriovNetworkNodeStateSpec:
    groups = [
        VfGroup.model_validate({"resourceName": "dpdk", "deviceType": "vfio-pci", "vfRange": "0-1"}),
        VfGroup.model_validate(
            {"resourceName": "net", "deviceType": "netdevice", "vfRange": f"2-{num_vfs - 1}", "mtu": 9000}
        ),
    ]
    interface = Interface(pci_address="0000:3b:00.1", num_vfs=num_vfs, mtu=9000, vf_groups=groups)
    return SriovNetworkNodeStateSpec(interfaces=[interface])


def test_bare_metal_creates_vfs_then_binds_their_drivers(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    first = plan(intel_spec(4), node.observe())
    assert [a.kind for a in first.actions] == [
        "loadModule",
        "rememberDevice",
        "writeUdevRules",
        "setNumVfs",
        "setPfMtu",
        "linkUp",
    ]
    assert first.requires_drain and not first.requires_reboot

    converge(node.access, intel_spec(4), node.observe)
    pf = node.discover(checkpoint=False).interfaces[1]
    assert (pf.num_vfs, pf.mtu, pf.link_admin_state) == (4, 9000, "up")
    assert pf.vfs is not None
    assert [(vf.driver, vf.mtu) for vf in pf.vfs] == [
        ("vfio-pci", None),
        ("vfio-pci", None),
        ("iavf", 9000),
        ("iavf", 9000),
    ]
    assert sorted(p.name for p in intel_host.path("dev/vfio").iterdir()) != []
    assert plan(intel_spec(4), node.observe()).actions == ()

    resize = plan(intel_spec(8), node.observe())
    recorded = {"mac": "3c:fd:fe:a1:00:01", "originalMtu": 1500}  # the MTU before we raised it
    assert [(a.kind, a.shown_value(), a.requires) for a in resize.actions] == [
        ("rememberDevice", {**intel_spec(8).interfaces[0].to_k8s(), **recorded}, "none"),  # type: ignore[index]
        ("writeUdevRules", pf_rules("0000:3b:00.1", "ens1f1", 8, VfLayout(79, 1), switchdev=False), "none"),
        ("setNumVfs", 8, "drain"),
    ]
    assert "0 is written first" in resize.actions[2].reason
    converge(node.access, intel_spec(8), node.observe)
    assert node.discover(checkpoint=False).interfaces[1].num_vfs == 8


def test_bare_metal_pf_leaving_the_spec_loses_the_vfs_we_created(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    converge(node.access, intel_spec(4), node.observe)
    converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert node.discover(checkpoint=False).interfaces[1].num_vfs == 0
    assert node.observe().configured == {}


def test_mellanox_switchdev_through_devlink(mellanox_host: HostRoot) -> None:
    node = sim_node(mellanox_host)
    spec = SriovNetworkNodeStateSpec(
        interfaces=[Interface(pci_address="0000:5e:00.0", num_vfs=2, e_switch_mode="switchdev")]
    )
    steps = plan(spec, node.observe())
    assert [(a.kind, a.requires) for a in steps.actions] == [  # its 2 VFs exist: mlx5's order
        ("rememberDevice", "none"),
        ("writeUdevRules", "none"),
        ("setFlowSteeringMode", "none"),
        ("unbindVFs", "drain"),
        ("setESwitchModeWithVFs", "drain"),
        ("bindVFs", "none"),
        ("setHwTcOffload", "none"),
    ]
    apply_plan(node.access, steps)
    assert node.discover(checkpoint=False).interfaces[0].e_switch_mode == "switchdev"


def test_bare_metal_vfio_without_iommu_is_refused_with_advice(intel_host: HostRoot) -> None:
    state = sim_node(intel_host).observe()
    with pytest.raises(PlanError, match="intel_iommu=on"):
        plan(intel_spec(4), dataclasses.replace(state, iommu_enabled=False))


def test_bare_metal_vfio_without_iommu_follows_an_administrators_noiommu_mode(intel_host: HostRoot) -> None:
    state = sim_node(intel_host).observe()
    noiommu = KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True)
    steps = plan(intel_spec(4), dataclasses.replace(state, iommu_enabled=False, modules=noiommu))
    assert [a.kind for a in steps.actions if a.kind in {"loadModule", "setModuleParameter"}] == []
    assert any(a.kind == "setNumVfs" for a in steps.actions)


class HangingWriter(SimulatedWriter):
    def write_attribute(self, path: Path, value: str) -> None:
        if path.name == "sriov_numvfs":
            time.sleep(2)
        super().write_attribute(path, value)


def test_a_hanging_sriov_numvfs_write_times_out(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    access = dataclasses.replace(
        node.access, writer=HangingWriter(intel_host.root), numvfs_timeout_seconds=0.2
    )
    with pytest.raises(ApplyError, match=r"did not finish in 0.2 s"):
        apply_plan(access, Plan((SetNumVfs("0000:3b:00.0", 2, reason="test"),)))
    time.sleep(2)  # let the stuck write finish before the tree is removed
    assert SimulatedKernel.load(intel_host.root).state.devices
