"""Faults found when the host layer was tried as a new user would: each test here failed before its fix."""

from __future__ import annotations

import shutil

import pytest

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec, VfGroup
from sriov_operator.host.actions import SetNumVfs
from sriov_operator.host.apply import apply_plan, converge
from sriov_operator.host.executors import ApplyError
from sriov_operator.host.plan import HostLacksSupportError, Plan, PlanError, plan
from sriov_operator.host.root import PCI_DRIVERS, HostRoot
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner
from sriov_operator.host.simulator.kernel import SimulatedKernel
from tests.unit.host.conftest import sim_node

INTEL_PF = "0000:3b:00.1"
MLX_PF = "0000:5e:00.0"
DPDK_PORT = "0000:00:04.0"
OFFLOAD_PORT = "0000:00:07.0"


def group(**fields: object) -> VfGroup:
    return VfGroup.model_validate({"resourceName": "r", "deviceType": "netdevice", **fields})


def pf_spec(pci: str, num_vfs: int, *groups: VfGroup, **more: object) -> SriovNetworkNodeStateSpec:
    interface = Interface.model_validate(
        {"pciAddress": pci, "numVfs": num_vfs, "vfGroups": list(groups), **more}
    )
    return SriovNetworkNodeStateSpec(interfaces=[interface])


@pytest.mark.parametrize(
    ("vf_range", "message"),
    [
        ("2-9", r"vfGroups\[0\].vfRange: '2-9' is outside the VFs of this PF; accepted: 'a-b'"),
        ("abc", r"vfGroups\[0\].vfRange: 'abc' is not a VF range"),
        ("3-1", r"'3-1' is outside"),
        ("1-", r"'1-' is not a VF range"),
    ],
)
def test_a_bad_vf_range_is_refused_before_any_change(
    intel_host: HostRoot, vf_range: str, message: str
) -> None:
    node = sim_node(intel_host)
    with pytest.raises(PlanError, match=message):
        converge(node.access, pf_spec(INTEL_PF, 4, group(vfRange=vf_range)), node.observe)
    assert node.discover(checkpoint=False).interfaces[1].num_vfs == 0


def test_overlapping_groups_and_duplicate_pfs_are_refused(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    overlap = pf_spec(INTEL_PF, 4, group(vfRange="0-2"), group(vfRange="2-3"))
    with pytest.raises(
        PlanError, match=r"vfGroups\[1\].vfRange: VF 2 is also in spec.interfaces\[0\].vfGroups\[0\]"
    ):
        plan(overlap, node.observe())
    twice = SriovNetworkNodeStateSpec(interfaces=[Interface(pci_address=INTEL_PF, num_vfs=2)] * 2)
    with pytest.raises(PlanError, match=r"0000:3b:00.1 is listed 2 times"):
        converge(node.access, twice, node.observe)
    assert node.discover(checkpoint=False).interfaces[1].num_vfs == 0


def test_apply_errors_name_the_action_and_the_host_file(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    intel_host.path("sys/bus/pci/devices", INTEL_PF, "sriov_numvfs").unlink()
    with pytest.raises(ApplyError) as caught:
        apply_plan(node.access, Plan((SetNumVfs(INTEL_PF, 2, reason="t"),)))
    assert str(caught.value) == (
        f"setNumVfs {INTEL_PF}: /sys/bus/pci/devices/{INTEL_PF}/sriov_numvfs: No such file or directory"
    )


@pytest.fixture
def debian_vm(tmp_path: object) -> HostRoot:
    """An OpenStack VM whose kernel was built without CONFIG_VFIO_NOIOMMU (Debian's stock kernels)."""
    profile = load_profile("openstack-vm").model_copy(update={"vfio_noiommu": False})
    host = HostRoot(tmp_path / "debian-vm")  # type: ignore[operator]
    create_host(profile, host.root)
    return host


def dpdk_port_spec() -> SriovNetworkNodeStateSpec:
    return pf_spec(DPDK_PORT, 1, group(deviceType="vfio-pci", vfRange="0-0"))


def test_a_kernel_without_noiommu_fails_with_what_to_do(debian_vm: HostRoot) -> None:
    node = sim_node(debian_vm)
    with pytest.raises(ApplyError, match="lacks no-IOMMU support") as caught:
        converge(node.access, dpdk_port_spec(), node.observe)  # modprobe vfio said yes and ignored the option
    assert "CONFIG_VFIO_NOIOMMU=y" in str(caught.value) and "vIOMMU" in str(caught.value)
    with pytest.raises(HostLacksSupportError, match="lacks no-IOMMU support"):
        plan(dpdk_port_spec(), node.observe())  # vfio is loaded now: the plan itself says so
    assert node.discover(checkpoint=False).interfaces[1].driver == "virtio-pci"


def test_an_externally_managed_pf_keeps_its_vfs_when_its_policy_goes(mellanox_host: HostRoot) -> None:
    node = sim_node(mellanox_host)
    converge(node.access, pf_spec(MLX_PF, 2, externallyManaged=True), node.observe)
    steps = plan(SriovNetworkNodeStateSpec(), node.observe())
    assert [(a.kind, a.target) for a in steps.actions] == [
        ("removeUdevRules", MLX_PF),
        ("forgetDevice", MLX_PF),
    ]
    converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert node.discover(checkpoint=False).interfaces[0].num_vfs == 2


def test_a_restore_that_binds_no_driver_keeps_the_record_and_retries(vm_host: HostRoot) -> None:
    node = sim_node(vm_host)
    converge(node.access, dpdk_port_spec(), node.observe)
    saved = vm_host.root / "virtio-pci-driver"
    shutil.move(vm_host.path(PCI_DRIVERS, "virtio-pci"), saved)  # its module was unloaded meanwhile
    with pytest.raises(ApplyError, match=f"{DPDK_PORT}: no driver bound after drivers_probe"):
        converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert DPDK_PORT in node.observe().configured
    shutil.move(saved, vm_host.path(PCI_DRIVERS, "virtio-pci"))
    converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert node.observe().configured == {}
    assert {i.pci_address: i.driver for i in node.discover(checkpoint=False).interfaces}[
        DPDK_PORT
    ] == "virtio-pci"


def test_fields_the_host_layer_ignores_are_warned_about(mellanox_host: HostRoot) -> None:
    spec = pf_spec(MLX_PF, 2, group(vfRange="0-1", vdpaType="vhost"), linkType="IB")
    warnings = plan(spec, sim_node(mellanox_host).observe()).warnings
    assert warnings == (
        f"spec.interfaces[0] ({MLX_PF}): linkType IB but the port is ETH; a port's link type is a firmware "
        "setting (mlx5: mstconfig LINK_TYPE_P<n>), not changed by this layer",
        "spec.interfaces[0].vfGroups[0]: vdpaType 'vhost' needs eSwitchMode switchdev: not applied",
    )
    assert plan(pf_spec(MLX_PF, 2), sim_node(mellanox_host).observe()).warnings == ()


def test_is_rdma_without_an_rdma_device_is_warned_about(vm_host: HostRoot) -> None:
    spec = pf_spec(OFFLOAD_PORT, 1, group(vfRange="0-0", isRdma=True))
    (warning,) = plan(spec, sim_node(vm_host).observe()).warnings
    assert warning.startswith(
        f"{OFFLOAD_PORT} (ens7): vfGroup r has isRdma but the device has no RDMA device"
    )
    assert warning.endswith("load mlx5_ib")
    named = pf_spec(OFFLOAD_PORT, 1, group(vfRange="0-0", isRdma=True, policyName="hwoffload1"))
    unusable = plan(named, sim_node(vm_host).observe()).unusable  # the policy status reads it
    assert list(unusable) == ["hwoffload1"]
    assert unusable["hwoffload1"].endswith("load mlx5_ib")
    kernel = SimulatedKernel.load(vm_host.root)
    kernel.state.available_modules.append("mlx5_ib")
    kernel.save()
    assert SimulatedCommandRunner(vm_host.root)(["modprobe", "mlx5_ib"]).returncode == 0
    assert plan(spec, sim_node(vm_host).observe()).warnings == ()
    assert plan(named, sim_node(vm_host).observe()).unusable == {}


def test_a_pf_with_representors_is_reported_by_its_uplink(mellanox_host: HostRoot) -> None:
    node = sim_node(mellanox_host)
    converge(node.access, pf_spec(MLX_PF, 2, eSwitchMode="switchdev"), node.observe)
    odd = mellanox_host.path("sys/bus/pci/devices", MLX_PF, "net", "a_rep")  # sorts before the uplink
    odd.mkdir()
    (odd / "phys_port_name").write_text("pf0vf7\n")
    pf = node.discover(checkpoint=False).interfaces[0]
    assert (pf.name, pf.mac, pf.e_switch_mode) == ("ens2f0np0", "b8:ce:f6:10:00:00", "switchdev")
    assert [(vf.vf_id, vf.representor_name) for vf in pf.vfs or []] == [
        (0, "ens2f0np0_0"),
        (1, "ens2f0np0_1"),
    ]


def test_a_pf_already_in_switchdev_is_not_switched_again(mellanox_host: HostRoot) -> None:
    node = sim_node(mellanox_host)
    spec = pf_spec(MLX_PF, 2, eSwitchMode="switchdev")
    assert [o.action.kind for o in converge(node.access, spec, node.observe)] == [
        "rememberDevice",
        "writeUdevRules",  # the PF keeps its name through the re-probe
        "setFlowSteeringMode",
        "unbindVFs",
        "setESwitchModeWithVFs",
        "bindVFs",
        "setHwTcOffload",  # the uplink
        "setHwTcOffload",  # the representors, once they exist (next round)
        "setHwTcOffload",
    ]
    assert plan(spec, node.observe()).actions == ()  # read over devlink: no compat/devlink/mode file
