"""What a person reads in a plan (``sriov-operator plan``, the daemon's log and events), word for word.

Each action carries its reason and each refusal names the field, the value and what to do; these
are the words a user acts on, so they are checked whole here, on hand-built hosts (pure ``plan``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sriov_operator.api.models import Interface, InterfaceExt, OVSConfigExt, SriovNetworkNodeStateSpec, System
from sriov_operator.host.actions import RememberDevice
from sriov_operator.host.ovs import FoundBridge, OvsState
from sriov_operator.host.plan import HostLacksSupportError, PlanError, plan
from sriov_operator.host.state import DeviceRecord, HostState, KernelModules
from sriov_operator.host.udev import VfLayout
from tests.unit.host.test_kernel_args import IOMMU_ARGS, dpdk_spec, no_iommu_host
from tests.unit.host.test_plan_requirements import (
    BOOKKEEPING,
    PF,
    PORT,
    VF0,
    VF1,
    bare_metal,
    configured,
    dpdk_port,
    group,
    pf,
    port,
    wanted,
)

LABEL = f"{PF} (ens1f0)"
GENERIC = "its driver has no order of its own: upstream's, VFs created in legacy mode"
MLX5 = "mlx5_core creates VFs in legacy mode and changes the eswitch with them unbound"
OFFLOAD = (
    f"{LABEL}: in switchdev, tc flower rules (OVS hardware offload) reach the NIC only with hw-tc-offload on"
)


def said(interfaces: list[Interface], host: HostState) -> list[tuple[str, str, str]]:
    """(kind, target, reason) of each action but the bookkeeping, in run order."""
    result = plan(SriovNetworkNodeStateSpec(interfaces=interfaces), host)
    return [(a.kind, a.target, a.reason) for a in result.actions if a.kind not in BOOKKEEPING]


def refusal(interfaces: list[Interface], host: HostState) -> str:
    with pytest.raises(PlanError) as refused:
        plan(SriovNetworkNodeStateSpec(interfaces=interfaces), host)
    return str(refused.value)


# ------------------------------------------------------------------------------------------------ the PF
def test_a_raised_mtu_and_a_link_brought_up_say_why() -> None:
    assert said([wanted(mtu=9000)], bare_metal(pf(linkAdminState="down"))) == [
        ("setPfMtu", PF, f"{LABEL}: MTU 1500 -> 9000 (a PF MTU is only ever raised)"),
        ("linkUp", PF, f"{LABEL}: carries VFs, so it must be up"),
    ]


def test_the_first_vfs_of_a_pf_are_created_without_writing_zero_first() -> None:
    assert said([wanted(numVfs=4)], bare_metal(pf(numVfs=0, Vfs=[]))) == [
        ("setNumVfs", PF, f"{LABEL}: 0 -> 4 VFs; VF drivers follow once the VFs exist"),
    ]


def test_an_unknown_eswitch_mode_is_set_first_then_the_vf_count() -> None:
    assert said([wanted(numVfs=4, eSwitchMode="switchdev")], bare_metal(pf())) == [
        (
            "setESwitchMode",
            PF,
            f"{LABEL}: eswitch mode unknown (devlink has no answer) -> switchdev; set first, so a device "
            "without an eSwitch refuses before its VFs change",
        ),
        ("setNumVfs", PF, f"{LABEL}: 2 -> 4 VFs (0 is written first); VF drivers follow once the VFs exist"),
        ("setHwTcOffload", PF, OFFLOAD),
    ]


def test_a_driver_without_an_order_of_its_own_gets_upstreams_in_words() -> None:
    spec = wanted(eSwitchMode="switchdev")
    assert said([spec], bare_metal(pf(eSwitchMode="legacy"))) == [
        ("unbindVFs", PF, f"{LABEL}: its VFs (2) are unbound before the eswitch changes ({GENERIC})"),
        ("setESwitchModeWithVFs", PF, f"{LABEL}: eswitch legacy -> switchdev once its VFs exist ({GENERIC})"),
        ("bindVFs", PF, f"{LABEL}: its VFs go back to their default driver, now in switchdev mode"),
        ("setHwTcOffload", PF, OFFLOAD),
    ]


def test_mlx5_in_switchdev_changing_its_vfs_and_flow_steering_goes_through_legacy_in_words() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), flow_steering={PF: "dmfs"})
    assert sorted(said([wanted(numVfs=4, eSwitchMode="switchdev")], host)) == sorted(
        [
            ("removeVFs", PF, f"{LABEL}: its VFs change in legacy mode ({MLX5}): its VFs (2) go first"),
            (
                "setESwitchMode",
                PF,
                f"{LABEL}: eswitch switchdev -> legacy, to change its VFs and flow steering there ({MLX5})",
            ),
            (
                "setFlowSteeringMode",
                PF,
                f"{LABEL}: flow_steering_mode dmfs -> smfs, the steering switchdev offload wants "
                "(the device changes it only in legacy mode)",
            ),
            ("setNumVfs", PF, f"{LABEL}: 0 -> 4 VFs in legacy mode; VF drivers follow once the VFs exist"),
            ("unbindVFs", PF, f"{LABEL}: its VFs (4) are unbound before the eswitch changes ({MLX5})"),
            (
                "setESwitchModeWithVFs",
                PF,
                f"{LABEL}: eswitch legacy -> switchdev once its VFs exist ({MLX5})",
            ),
            ("bindVFs", PF, f"{LABEL}: its VFs go back to their default driver, now in switchdev mode"),
            ("setHwTcOffload", PF, OFFLOAD),
        ]
    )


def test_mlx5_in_switchdev_is_in_legacy_before_its_flow_steering_changes() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), flow_steering={PF: "dmfs"})
    assert [kind for kind, _, _ in said([wanted(numVfs=4, eSwitchMode="switchdev")], host)] == [
        "removeVFs",
        "setESwitchMode",  # to legacy: the device changes its flow steering only there
        "setFlowSteeringMode",
        "setNumVfs",
        "unbindVFs",
        "setESwitchModeWithVFs",
        "bindVFs",
        "setHwTcOffload",
    ]


def test_mlx5_in_switchdev_getting_only_its_flow_steering_keeps_its_vf_count() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), flow_steering={PF: "dmfs"})
    assert sorted(kind for kind, _, _ in said([wanted(eSwitchMode="switchdev")], host)) == [
        "bindVFs",
        "removeVFs",
        "setESwitchMode",
        "setESwitchModeWithVFs",
        "setFlowSteeringMode",
        "setHwTcOffload",
        "setNumVfs",
        "unbindVFs",
    ]


def test_ice_removes_its_vfs_sets_flow_steering_and_the_mode_then_creates_them_in_words() -> None:
    host = bare_metal(pf(eSwitchMode="legacy", driver="ice"), flow_steering={PF: "dmfs"})
    assert said([wanted(eSwitchMode="switchdev")], host) == [
        ("removeVFs", PF, f"{LABEL}: ice changes its eswitch mode only without VFs: its VFs (2) go first"),
        (
            "setFlowSteeringMode",
            PF,
            f"{LABEL}: flow_steering_mode dmfs -> smfs, the steering switchdev offload wants "
            "(the device changes it only in legacy mode)",
        ),
        (
            "setESwitchMode",
            PF,
            f"{LABEL}: eswitch legacy -> switchdev, before its VFs are created (ice's order)",
        ),
        ("setNumVfs", PF, f"{LABEL}: 0 -> 2 VFs in switchdev mode; VF drivers follow once the VFs exist"),
        ("setHwTcOffload", PF, OFFLOAD),
    ]


def test_ice_in_switchdev_changing_only_its_vf_count_keeps_the_mode() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="ice"))
    assert said([wanted(numVfs=4, eSwitchMode="switchdev")], host) == [
        ("setNumVfs", PF, f"{LABEL}: 2 -> 4 VFs (0 is written first); VF drivers follow once the VFs exist"),
    ]


def test_flow_steering_already_smfs_is_left_alone() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), flow_steering={PF: "smfs"})
    assert said([wanted(eSwitchMode="switchdev")], host) == []


def test_a_switchdev_uplink_whose_offload_went_off_gets_it_back() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), tc_offload={"ens1f0": False})
    assert said([wanted(eSwitchMode="switchdev")], host) == [("setHwTcOffload", PF, OFFLOAD)]


def test_a_pf_record_keeps_how_the_pf_was_and_says_why() -> None:
    host = bare_metal(pf(eSwitchMode="legacy"), tc_offload={"ens1f0": False}, flow_steering={PF: "dmfs"})
    result = plan(SriovNetworkNodeStateSpec(interfaces=[wanted(mtu=9000)]), host)
    [remember] = [a for a in result.actions if isinstance(a, RememberDevice)]
    assert remember.reason == "remember what we configure, to give the device back when it leaves the spec"
    assert {key: value for key, value in remember.shown_value().items() if key.startswith("original")} == {
        "originalMtu": 1500,
        "originalESwitchMode": "legacy",
        "originalHwTcOffload": "off",
        "originalFlowSteeringMode": "dmfs",
    }
    on = plan(SriovNetworkNodeStateSpec(interfaces=[wanted()]), bare_metal(pf(), tc_offload={"ens1f0": True}))
    assert [a.record.original_hw_tc_offload for a in on.actions if isinstance(a, RememberDevice)] == ["on"]


# ------------------------------------------------------------------------------------------------ its VFs
def test_vf_driver_and_mtu_changes_name_the_group_and_what_the_vf_is_on() -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [status.vfs[0].model_copy(update={"driver": None}), status.vfs[1]]
    host = bare_metal(status.model_copy(update={"vfs": vfs}))
    groups = [group("netdevice", "0-0", mtu=9000), group("vfio-pci", "1-1", policyName="dpdk")]
    assert said([wanted(groups=groups)], host) == [
        ("bindDriver", VF0, f"vfGroup r, policy p wants a netdevice; {VF0} is on no driver"),
        ("bindDriver", VF1, f"vfGroup r, policy dpdk wants vfio-pci (DPDK); {VF1} is on iavf"),
    ]
    bound = bare_metal(pf())
    assert said([wanted(groups=[group("netdevice", "0-1", mtu=9000)])], bound) == [
        ("setVfMtu", VF0, f"{VF0}: MTU 1500 -> 9000 for vfGroup r, policy p"),
        ("setVfMtu", VF1, f"{VF1}: MTU 1500 -> 9000 for vfGroup r, policy p"),
    ]


def test_a_group_without_a_policy_is_named_by_its_resource() -> None:
    spec = wanted(groups=[{"resourceName": "r", "deviceType": "vfio-pci", "vfRange": "0-1"}])
    assert said([spec], bare_metal(pf()))[0] == (
        "bindDriver",
        VF0,
        f"vfGroup r wants vfio-pci (DPDK); {VF0} is on iavf",
    )


def test_a_group_without_a_vf_range_is_its_pfs_vf_0() -> None:
    spec = wanted(groups=[{"resourceName": "r", "deviceType": "vfio-pci"}])
    assert [(kind, target) for kind, target, _ in said([spec], bare_metal(pf()))] == [("bindDriver", VF0)]


def test_a_vf_on_vfio_going_back_to_a_netdevice_is_taken_from_its_dpdk_pods() -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [vf.model_copy(update={"driver": "vfio-pci"}) for vf in status.vfs]
    host = bare_metal(status.model_copy(update={"vfs": vfs}))
    assert said([wanted(groups=[group("netdevice", "0-0")])], host) == [
        ("bindDriver", VF0, f"vfGroup r, policy p wants a netdevice; {VF0} is on vfio-pci"),
    ]


def test_admin_macs_say_what_they_pin() -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [vf.model_copy(update={"mac": "02:A0:00:00:00:0" + str(vf.vf_id)}) for vf in status.vfs]
    host = bare_metal(
        status.model_copy(update={"vfs": vfs}),
        vf_admin_macs={VF0: "00:00:00:00:00:00", VF1: "02:00:00:00:00:09"},
    )
    why = (
        "so the VF keeps its MAC when its driver changes "
        "(a VF driver picks a new random one at every probe otherwise)"
    )
    assert said([wanted(groups=[group("netdevice")])], host) == [
        ("setVfAdminMac", VF0, f"{VF0}: admin MAC none -> 02:A0:00:00:00:00, {why}"),
        ("setVfAdminMac", VF1, f"{VF1}: admin MAC 02:00:00:00:00:09 -> 02:A0:00:00:00:01, {why}"),
    ]
    pinned = plan(SriovNetworkNodeStateSpec(interfaces=[wanted(groups=[group("netdevice")])]), host)
    assert [a.shown_value() for a in pinned.actions if a.kind == "setVfAdminMac"] == [
        "02:a0:00:00:00:00",
        "02:a0:00:00:00:01",
    ]


def test_an_admin_mac_already_pinned_in_another_case_is_left_alone() -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [vf.model_copy(update={"mac": "02:A0:00:00:00:0" + str(vf.vf_id)}) for vf in status.vfs]
    host = bare_metal(
        status.model_copy(update={"vfs": vfs}),
        vf_admin_macs={VF0: "02:a0:00:00:00:00", VF1: "02:a0:00:00:00:01"},
    )
    assert said([wanted(groups=[group("netdevice")])], host) == []


# --------------------------------------------------------------------------------------------- vDPA, vhost
def switchdev_vfs(**vf: Any) -> HostState:
    status = pf(eSwitchMode="switchdev", driver="mlx5_core")
    assert status.vfs is not None
    return bare_metal(status.model_copy(update={"vfs": [v.model_copy(update=vf) for v in status.vfs]}))


def test_vdpa_devices_and_their_bus_driver_say_why() -> None:
    spec = wanted(eSwitchMode="switchdev", groups=[group("netdevice", vdpaType="vhost")])
    assert said([spec], switchdev_vfs(vdpa_type="virtio")) == [
        ("loadModule", "vhost_vdpa", "vfGroup r, policy p wants vhost vDPA devices, bound to vhost_vdpa"),
        (
            "createVdpaDevice",
            VF0,
            f"{VF0}: vfGroup r, policy p wants a vhost vDPA device; the VF has a virtio one",
        ),
        (
            "createVdpaDevice",
            VF1,
            f"{VF1}: vfGroup r, policy p wants a vhost vDPA device; the VF has a virtio one",
        ),
    ]
    assert said([spec], switchdev_vfs())[1][2] == (
        f"{VF0}: vfGroup r, policy p wants a vhost vDPA device; the VF has none"
    )
    plain = wanted(eSwitchMode="switchdev", groups=[group("netdevice")])
    assert said([plain], switchdev_vfs(vdpa_type="virtio"))[0] == (
        "deleteVdpaDevice",
        VF0,
        f"{VF0}: vfGroup r, policy p has no vdpaType; the VF has a virtio vDPA device",
    )


def test_the_vdpa_bus_driver_is_loaded_once_and_not_when_loaded() -> None:
    groups = [group("netdevice", "0-0", vdpaType="virtio"), group("netdevice", "1-1", vdpaType="virtio")]
    spec = wanted(eSwitchMode="switchdev", groups=groups)
    modules = [a for a in plan(SriovNetworkNodeStateSpec(interfaces=[spec]), switchdev_vfs()).actions]
    assert [(a.kind, a.target) for a in modules if a.kind == "loadModule"] == [("loadModule", "virtio_vdpa")]
    loaded = dataclasses.replace(switchdev_vfs(vdpa_type="virtio"), vdpa_drivers=frozenset({"virtio_vdpa"}))
    assert said([spec], loaded) == []


def test_a_vdpa_type_on_a_vfio_group_is_a_warning() -> None:
    spec = wanted(eSwitchMode="switchdev", groups=[group("vfio-pci", vdpaType="virtio")])
    result = plan(SriovNetworkNodeStateSpec(interfaces=[spec]), switchdev_vfs(driver="vfio-pci"))
    assert result.warnings == (
        "spec.interfaces[0].vfGroups[0]: vdpaType 'virtio' needs a netdevice VF, not vfio-pci",
    )
    assert not any("Vdpa" in a.kind for a in result.actions)


def test_need_vhost_net_loads_its_modules_saying_why() -> None:
    why = "vfGroup r, policy p has needVhostNet: its pods get /dev/net/tun and /dev/vhost-net"
    spec = wanted(groups=[group("netdevice", needVhostNet=True)])
    assert said([spec], bare_metal(pf())) == [("loadModule", "tun", why), ("loadModule", "vhost_net", why)]


# --------------------------------------------------------------------------------------------- vfio modules
def vm_with(modules: KernelModules) -> HostState:
    return HostState("openstack", [port("virtio-pci")], modules=modules)


def test_vfio_in_a_vm_says_why_no_iommu_mode() -> None:
    assert said([dpdk_port()], vm_with(KernelModules())) == [
        (
            "loadModule",
            "vfio",
            "vfGroup r, policy p wants vfio-pci; a VM has no IOMMU Nova can use, "
            "so vfio runs in no-IOMMU mode",
        ),
        ("loadModule", "vfio_pci", "vfGroup r, policy p wants the vfio-pci driver"),
        ("bindDriver", PORT, f"vfGroup r, policy p wants vfio-pci (DPDK); {PORT} (ens4) is on virtio-pci"),
    ]
    loaded = KernelModules(vfio_loaded=True, vfio_pci_loaded=True)
    assert said([dpdk_port()], vm_with(loaded))[0] == (
        "setModuleParameter",
        "vfio",
        "vfGroup r, policy p wants vfio-pci; vfio is loaded without no-IOMMU mode: set it at run time",
    )


def test_a_vm_kernel_without_no_iommu_support_says_what_to_use_instead() -> None:
    lacking = KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_supported=False)
    with pytest.raises(HostLacksSupportError) as lacks:
        plan(SriovNetworkNodeStateSpec(interfaces=[dpdk_port()]), vm_with(lacking))
    assert str(lacks.value) == (
        "vfGroup r, policy p wants vfio-pci in no-IOMMU mode, but this kernel lacks no-IOMMU support "
        "(vfio has no enable_unsafe_noiommu_mode parameter: built without CONFIG_VFIO_NOIOMMU): "
        "use a kernel built with CONFIG_VFIO_NOIOMMU=y (RHCOS/RHEL and Ubuntu kernels are), "
        "or give the VM a vIOMMU and use vfio-pci with it"
    )


def test_bare_metal_vfio_without_an_iommu_says_how_to_enable_it() -> None:
    with pytest.raises(PlanError) as refused:
        plan(dpdk_spec(), no_iommu_host(cmdline=frozenset(IOMMU_ARGS)))
    assert str(refused.value) == (
        "vfGroup r, policy p wants vfio-pci but the IOMMU is not enabled on this host: enable VT-d/AMD-Vi in "
        "the BIOS and add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line, then reboot "
        "(or load vfio with enable_unsafe_noiommu_mode=1 yourself, accepting DMA without isolation)"
    )


# ------------------------------------------------------------------------------------------------ a VM port
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"numVfs": 2}, f"{PORT}: virtual platform: numVfs must be 1 (a VM port is one PCI function), not 2"),
        (
            {"eSwitchMode": "switchdev"},
            f"{PORT}: virtual platform: eSwitchMode is set on the hypervisor, not in the VM",
        ),
        (
            {"vfGroups": [group("vfio-pci", "0-0"), group("netdevice", "0-0")]},
            "spec.interfaces[0].vfGroups[1].vfRange: VF 0 is also in spec.interfaces[0].vfGroups[0]",
        ),
    ],
)
def test_vm_port_refusals_word_for_word(spec: dict[str, Any], message: str) -> None:
    body = Interface.model_validate({"pciAddress": PORT, "numVfs": 1, **spec})
    assert (
        refusal([body], vm_with(KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True)))
        == message
    )


def test_a_vm_port_without_num_vfs_is_one_function() -> None:
    body = Interface.model_validate({"pciAddress": PORT, "vfGroups": [group("vfio-pci", "0-0")]})
    ready = KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True)
    assert [kind for kind, _, _ in said([body], vm_with(ready))] == ["bindDriver"]


def test_a_port_leaving_the_spec_says_what_it_gives_back() -> None:
    host = HostState("openstack", [port(None)], configured=configured(dpdk_port()))
    assert said([], host) == [
        ("bindDriver", PORT, f"{PORT} left the spec; it is on no driver: give it back to its default driver"),
        ("forgetDevice", PORT, f"{PORT} left the spec; nothing more to give back"),
    ]


# ------------------------------------------------------------------------------------ a PF leaving the spec
def test_a_pf_leaving_the_spec_says_what_it_gets_back() -> None:
    record = DeviceRecord.model_validate(
        {
            "pciAddress": PF,
            "numVfs": 2,
            "originalMtu": 1500,
            "originalESwitchMode": "legacy",
            "originalFlowSteeringMode": "dmfs",
            "originalHwTcOffload": "off",
        }
    )
    host = bare_metal(
        pf(mtu=9000, eSwitchMode="switchdev"),
        configured={PF: record},
        flow_steering={PF: "smfs"},
        tc_offload={"ens1f0": True},
        udev_rules={PF: "rules"},
    )
    left = f"{PF} left the spec"
    assert said([], host) == [
        ("setNumVfs", PF, f"{left}; we created its 2 VFs: remove them"),
        ("restoreESwitchMode", PF, f"{left}; its eswitch was legacy before we configured it (now switchdev)"),
        (
            "restoreFlowSteeringMode",
            PF,
            f"{left}; its flow_steering_mode was dmfs before we configured it (now smfs)",
        ),
        ("restorePfMtu", PF, f"{left}; its MTU was 1500 before we configured it (now 9000)"),
        ("setHwTcOffload", PF, f"{left}; hw-tc-offload was off before we configured it"),
        ("removeUdevRules", PF, f"{left}: our udev rules for it go"),
        ("forgetDevice", PF, f"{left}; nothing more to give back"),
    ]


def test_a_pf_whose_offload_was_on_before_keeps_it_on_when_it_leaves() -> None:
    record = DeviceRecord.model_validate({"pciAddress": PF, "numVfs": 2, "originalHwTcOffload": "on"})
    host = bare_metal(pf(numVfs=0, Vfs=[]), configured={PF: record}, tc_offload={"ens1f0": True})
    assert [kind for kind, _, _ in said([], host)] == ["forgetDevice"]


def test_a_pf_keeping_no_vfs_loses_our_udev_rules_saying_why() -> None:
    layout = {PF: VfLayout(offset=16, stride=1)}
    host = bare_metal(pf(numVfs=0, Vfs=[]), udev_rules={PF: "rules"}, vf_layouts=layout)
    result = plan(SriovNetworkNodeStateSpec(interfaces=[wanted(numVfs=0)]), host)
    assert [(a.kind, a.reason) for a in result.actions if a.kind == "removeUdevRules"] == [
        ("removeUdevRules", f"{LABEL} needs no udev rules (no VFs, no switchdev): our udev rules for it go")
    ]


def test_udev_rules_say_why_in_legacy_and_in_switchdev() -> None:
    layout = {PF: VfLayout(offset=16, stride=1)}
    legacy = plan(SriovNetworkNodeStateSpec(interfaces=[wanted()]), bare_metal(pf(), vf_layouts=layout))
    switchdev = plan(
        SriovNetworkNodeStateSpec(interfaces=[wanted(eSwitchMode="switchdev")]),
        bare_metal(pf(eSwitchMode="switchdev")),
    )
    assert [a.reason for a in legacy.actions if a.kind == "writeUdevRules"] == [
        f"{LABEL}: NetworkManager must leave its 2 VFs unmanaged (no DHCP on them)"
    ]
    assert [a.reason for a in switchdev.actions if a.kind == "writeUdevRules"] == [
        f"{LABEL}: NetworkManager must leave its 2 VFs unmanaged (no DHCP on them); "
        "in switchdev the PF keeps its name and each representor is <pf>_<vf id>"
    ]


# ----------------------------------------------------------------------------------- the spec, refused
@pytest.mark.parametrize(
    ("vf_range", "message"),
    [
        pytest.param(
            "0-2",
            "spec.interfaces[0].vfGroups[0].vfRange: '0-2' is outside the VFs of this PF; "
            "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (2)",
            id="one-past-the-last-vf",
        ),
        pytest.param(
            "2",
            "spec.interfaces[0].vfGroups[0].vfRange: '2' is outside the VFs of this PF; "
            "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (2)",
            id="a-single-vf-past-the-last",
        ),
        pytest.param(
            "1" * 17,
            f"spec.interfaces[0].vfGroups[0].vfRange: '{'1' * 17}' is not a VF range; "
            "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (2)",
            id="longer-than-16-characters",
        ),
        pytest.param(
            "x" * 50,
            f"spec.interfaces[0].vfGroups[0].vfRange: '{'x' * 40}' is not a VF range; "
            "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (2)",
            id="shown-up-to-40-characters",
        ),
        pytest.param(
            "-1",
            "spec.interfaces[0].vfGroups[0].vfRange: '-1' is not a VF range; "
            "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (2)",
            id="no-first-vf",
        ),
    ],
)
def test_vf_ranges_refused_word_for_word(vf_range: str, message: str) -> None:
    assert refusal([wanted(groups=[group(vf_range=vf_range)])], bare_metal(pf())) == message


@pytest.mark.parametrize(
    ("vf_range", "vfs"),
    [
        pytest.param("1", [VF1], id="a-single-vf"),
        pytest.param("1-1", [VF1], id="the-last-vf"),
        pytest.param("0000000000000001", [VF1], id="16-characters"),
        pytest.param("0-1", [VF0, VF1], id="all"),
    ],
)
def test_vf_ranges_accepted(vf_range: str, vfs: list[str]) -> None:
    spec = wanted(groups=[group("vfio-pci", vf_range)])
    assert [target for _, target, _ in said([spec], bare_metal(pf()))] == vfs


def test_an_address_that_is_not_one_is_refused_showing_40_characters() -> None:
    bad = "x" * 50
    message = refusal([wanted(bad)], bare_metal(pf()))
    assert message.startswith(f"spec.interfaces[0].pciAddress: '{'x' * 40}' is not a PCI address; accepted: ")


def test_a_pf_listed_twice_is_refused_with_the_count() -> None:
    assert refusal([wanted(), wanted(), wanted()], bare_metal(pf())) == (
        f"spec.interfaces[0].pciAddress: {PF} is listed 3 times"
    )


def test_more_vfs_than_the_device_has_is_refused_naming_both() -> None:
    assert refusal([wanted(numVfs=9)], bare_metal(pf())) == f"{LABEL}: numVfs 9 is more than the device's 8"
    assert refusal([wanted(numVfs=1)], bare_metal(pf(totalvfs=None))) == (
        f"{LABEL}: numVfs 1 is more than the device's 0"
    )


def test_an_externally_managed_pf_wanting_other_vfs_is_refused_word_for_word() -> None:
    assert refusal([wanted(numVfs=4, externallyManaged=True)], bare_metal(pf())) == (
        f"{LABEL}: externally managed with 2 VFs but the spec wants 4; "
        "create them outside the operator or drop externallyManaged"
    )
    assert refusal([wanted(numVfs=1, externallyManaged=True)], bare_metal(pf(numVfs=None, Vfs=[]))) == (
        f"{LABEL}: externally managed with 0 VFs but the spec wants 1; "
        "create them outside the operator or drop externallyManaged"
    )


def test_an_externally_managed_pf_in_switchdev_wanting_legacy_is_refused() -> None:
    spec = wanted(externallyManaged=True, eSwitchMode="legacy")
    assert refusal([spec], bare_metal(pf(eSwitchMode="switchdev"))) == (
        f"{LABEL}: externally managed in eswitch mode switchdev but the spec wants legacy; "
        "set the mode outside the operator or drop externallyManaged"
    )


def test_a_pf_the_host_does_not_have_is_refused() -> None:
    assert refusal([wanted("0000:99:00.0")], bare_metal(pf())) == (
        "0000:99:00.0: in the desired spec but not found on this host"
    )


def test_the_nodes_own_link_is_not_taken_saying_how_to_allow_it() -> None:
    spec = wanted(groups=[group("vfio-pci", "0-0")])
    status = pf()
    assert status.vfs is not None
    named = status.model_copy(
        update={"vfs": [status.vfs[0].model_copy(update={"name": "ens1f0v0"}), status.vfs[1]]}
    )
    guarded = bare_metal(named, node_links={"ens1f0v0": "it has the node's InternalIP"})
    assert refusal([spec], guarded) == (
        f"{VF0} (ens1f0v0): refusing bindDriver (vfGroup r, policy p wants vfio-pci (DPDK); "
        f"{VF0} (ens1f0v0) is on iavf): it has the node's InternalIP, so the node would lose its "
        "connectivity; move the node's traffic to another interface, or allow it explicitly "
        "(--allow-node-link ens1f0v0)"
    )


# ------------------------------------------------------------------------------------------------ warnings
def test_rdma_mode_without_ib_core_is_a_warning() -> None:
    spec = SriovNetworkNodeStateSpec.model_validate({"system": {"rdmaMode": "shared"}})
    assert plan(spec, bare_metal(pf())).warnings == (
        "system.rdmaMode 'shared': ib_core is not loaded, so there is no RDMA subsystem to set at run time "
        "(an ib_core.netns_mode argument applies when it loads)",
    )
    assert plan(spec, bare_metal(pf(), rdma_mode="shared")).warnings == ()


def test_is_rdma_on_a_vf_without_a_driver_names_no_module() -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [status.vfs[0].model_copy(update={"driver": None}), status.vfs[1]]
    host = bare_metal(status.model_copy(update={"vfs": vfs}), rdma_devices=frozenset({VF1}))
    spec = wanted(groups=[group("netdevice", "1-1"), group("netdevice", "0-0", isRdma=True)])
    result = plan(SriovNetworkNodeStateSpec(interfaces=[spec]), host)
    expected = (
        f"{VF0}: vfGroup r, policy p has isRdma but the device has no RDMA device (nothing under its "
        "infiniband/): load the RDMA driver for it"
    )
    assert result.warnings == (expected,)
    assert result.unusable == {"p": expected}


def test_is_rdma_warnings_of_a_group_without_a_policy_mark_no_policy_unusable() -> None:
    spec = wanted(groups=[{"resourceName": "r", "deviceType": "netdevice", "vfRange": "0-1", "isRdma": True}])
    result = plan(SriovNetworkNodeStateSpec(interfaces=[spec]), bare_metal(pf()))
    assert len(result.warnings) == 2
    assert result.warnings[0].endswith("load the RDMA driver for iavf")
    assert result.unusable == {}


def test_warnings_come_with_a_plan_that_waits_for_a_reboot() -> None:
    spec = dpdk_spec().model_copy(update={"system": System(rdma_mode="shared")})
    result = plan(spec, no_iommu_host())
    assert [a.kind for a in result.actions] == ["addKernelArgs", "reboot"]
    assert [warning.split(":")[0] for warning in result.warnings] == ["system.rdmaMode 'shared'"]


# ------------------------------------------------------------------------------------------------ OVS bridges
def ovs_spec(uplink: str = PF, uplink_name: str = "ens1f0") -> SriovNetworkNodeStateSpec:
    bridge = {"name": "br0", "uplinks": [{"pciAddress": uplink, "name": uplink_name}]}
    return SriovNetworkNodeStateSpec.model_validate({"bridges": {"ovs": [bridge]}})


def test_bridges_without_open_vswitch_say_what_was_found_and_what_to_install() -> None:
    with pytest.raises(HostLacksSupportError) as missing:
        plan(ovs_spec(), bare_metal(pf()))
    assert str(missing.value) == (
        "spec.bridges.ovs (br0): no OVSDB socket (/var/run/openvswitch/db.sock); "
        "install Open vSwitch on the node and start it"
    )
    with pytest.raises(HostLacksSupportError) as unreadable:
        plan(ovs_spec(), bare_metal(pf(), ovs_problem="OVSDB answered an error: permission denied"))
    assert str(unreadable.value) == (
        "spec.bridges.ovs (br0): OVSDB answered an error: permission denied; "
        "install Open vSwitch on the node and start it"
    )


def test_a_bridge_uplink_without_a_netdev_or_not_on_the_host_is_refused() -> None:
    with pytest.raises(PlanError) as unbound:
        plan(ovs_spec(), bare_metal(pf(name=None), ovs=OvsState()))
    assert str(unbound.value) == (
        f"spec.bridges.ovs[0] (br0): uplink {PF} has no network interface (is its driver bound?)"
    )
    with pytest.raises(PlanError) as absent:
        plan(ovs_spec("0000:99:00.0" + "9" * 40), bare_metal(pf(), ovs=OvsState()))
    assert str(absent.value) == (
        f"spec.bridges.ovs[0] (br0).uplinks[0].pciAddress: '0000:99:00.0{'9' * 28}' not found on this host"
    )


def test_a_bridge_is_made_with_the_pfs_own_netdev_whatever_name_the_spec_gives() -> None:
    [create] = [a for a in plan(ovs_spec(uplink_name="old-name"), switchdev_uplink()).actions]
    assert (create.kind, create.target) == ("createOvsBridge", PF)
    assert create.describe() == f"create OVS bridge br0 with uplink ens1f0 ({PF}), hw-offload on"


def switchdev_uplink(*found: FoundBridge, hw_offload: bool = True, **status: Any) -> HostState:
    return bare_metal(pf(eSwitchMode="switchdev", **status), ovs=OvsState(found, hw_offload))


def test_bridges_that_are_not_ours_are_refused_saying_what_to_do() -> None:
    theirs = FoundBridge(ovs_spec().bridges.ovs[0], ours=False)  # type: ignore[union-attr,index]
    with pytest.raises(PlanError) as exists:
        plan(ovs_spec(), switchdev_uplink(theirs))
    assert str(exists.value) == (
        "OVS bridge br0 exists on the host and was not created by the operator; "
        "remove or rename it, the operator never changes a bridge it did not make"
    )
    other = FoundBridge(ovs_spec().bridges.ovs[0].model_copy(update={"name": "br-ex"}), ours=False)  # type: ignore[union-attr,index]
    with pytest.raises(PlanError) as holds:
        plan(ovs_spec(), switchdev_uplink(other))
    assert str(holds.value) == (
        f"{LABEL}: already a port of OVS bridge br-ex, which the operator did not create; "
        "take it off that bridge first"
    )


def test_a_bridge_update_names_every_field_that_differs_and_keeps_the_wanted_bridge() -> None:
    wanted_bridge = ovs_spec().bridges.ovs[0]  # type: ignore[union-attr,index]
    found = OVSConfigExt.model_validate(
        {
            "name": "br0",
            "bridge": {"datapathType": "netdev"},
            "uplinks": [{"pciAddress": PF, "name": "ens1f0", "interface": {"mtuRequest": 1500}}],
        }
    )
    [update] = plan(ovs_spec(), switchdev_uplink(FoundBridge(found, ours=True))).actions
    assert (update.kind, update.target, update.reason) == (
        "updateOvsBridge",
        PF,
        "OVS bridge br0: bridge, uplinks differ from spec.bridges",
    )
    [offload] = plan(
        ovs_spec(), switchdev_uplink(FoundBridge(wanted_bridge, ours=True), hw_offload=False)
    ).actions
    assert (offload.kind, offload.target, offload.shown_value()) == (
        "updateOvsBridge",
        PF,
        wanted_bridge.to_k8s(),
    )


def test_a_bridge_on_an_uplink_that_needs_no_change_is_made_at_once() -> None:
    """A PF with no VFs wanted and none there, in legacy as devlink cannot tell: nothing to wait for."""
    spec = ovs_spec().model_copy(update={"interfaces": [wanted(numVfs=0, eSwitchMode="legacy")]})
    host = bare_metal(pf(numVfs=None, Vfs=[]), ovs=OvsState((), True))
    assert [a.kind for a in plan(spec, host).actions if a.kind not in BOOKKEEPING] == ["createOvsBridge"]


# ------------------------------------------------------------------------------- more of the eSwitch paths
def test_an_unknown_eswitch_on_a_pf_without_vfs_gets_the_mode_then_its_first_vfs() -> None:
    spec = wanted(numVfs=1, eSwitchMode="switchdev")
    assert said([spec], bare_metal(pf(numVfs=None, Vfs=[])))[:2] == [
        (
            "setESwitchMode",
            PF,
            f"{LABEL}: eswitch mode unknown (devlink has no answer) -> switchdev; set first, so a device "
            "without an eSwitch refuses before its VFs change",
        ),
        ("setNumVfs", PF, f"{LABEL}: 0 -> 1 VFs; VF drivers follow once the VFs exist"),
    ]


def test_ice_without_vfs_switches_then_creates_them() -> None:
    host = bare_metal(pf(eSwitchMode="legacy", driver="ice", numVfs=None, Vfs=[]))
    assert [kind for kind, _, _ in said([wanted(eSwitchMode="switchdev")], host)] == [
        "setESwitchMode",
        "setNumVfs",
        "setHwTcOffload",
    ]


def test_ice_switching_with_no_vfs_wanted_only_removes_them_and_switches() -> None:
    host = bare_metal(pf(eSwitchMode="legacy", driver="ice"))
    assert [kind for kind, _, _ in said([wanted(numVfs=0, eSwitchMode="switchdev")], host)] == [
        "removeVFs",
        "setESwitchMode",
        "setHwTcOffload",
    ]


def test_mlx5_in_switchdev_dropping_all_its_vfs_goes_through_legacy_and_back_without_vfs() -> None:
    host = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"))
    assert [kind for kind, _, _ in said([wanted(numVfs=0, eSwitchMode="switchdev")], host)] == [
        "removeVFs",
        "setESwitchMode",
        "setESwitchModeWithVFs",
        "setHwTcOffload",
    ]


def test_a_group_without_a_resource_name_is_shown_as_such() -> None:
    spec = wanted(groups=[{"deviceType": "vfio-pci", "vfRange": "0-0", "policyName": "p"}])
    assert said([spec], bare_metal(pf())) == [
        ("bindDriver", VF0, f"vfGroup ?, policy p wants vfio-pci (DPDK); {VF0} is on iavf"),
    ]


def test_flow_steering_is_given_back_only_when_both_the_record_and_the_device_know_it() -> None:
    record = DeviceRecord.model_validate({"pciAddress": PF, "numVfs": 2, "originalFlowSteeringMode": "dmfs"})
    unknown_now = bare_metal(pf(), configured={PF: record})
    assert [kind for kind, _, _ in said([], unknown_now)] == ["setNumVfs", "forgetDevice"]
    unrecorded = DeviceRecord.model_validate({"pciAddress": PF, "numVfs": 2})
    unknown_before = bare_metal(pf(), configured={PF: unrecorded}, flow_steering={PF: "smfs"})
    assert [kind for kind, _, _ in said([], unknown_before)] == ["setNumVfs", "forgetDevice"]


def test_a_mode_devlink_reports_that_is_neither_legacy_nor_switchdev_is_not_recorded_to_give_back() -> None:
    result = plan(
        SriovNetworkNodeStateSpec(interfaces=[wanted()]), bare_metal(pf(eSwitchMode="switchdev_inactive"))
    )
    [remember] = [a for a in result.actions if isinstance(a, RememberDevice)]
    assert (remember.record.original_mtu, remember.record.original_e_switch_mode) == (1500, None)


def test_a_representor_whose_offload_went_off_is_named_with_its_vf() -> None:
    status = pf(eSwitchMode="switchdev", driver="mlx5_core")
    assert status.vfs is not None
    vfs = [vf.model_copy(update={"representor_name": f"ens1f0_{vf.vf_id}"}) for vf in status.vfs]
    host = bare_metal(status.model_copy(update={"vfs": vfs}), tc_offload={"ens1f0": True, "ens1f0_1": False})
    assert said([wanted(eSwitchMode="switchdev")], host) == [
        (
            "setHwTcOffload",
            VF1,
            f"ens1f0_1 (representor of VF 1 of {PF}): in switchdev, tc flower rules (OVS hardware offload) "
            "reach the NIC only with hw-tc-offload on",
        )
    ]


def test_an_infiniband_pf_gets_no_admin_macs() -> None:
    status = pf(linkType="IB")
    assert status.vfs is not None
    vfs = [vf.model_copy(update={"mac": f"02:a0:00:00:00:0{vf.vf_id}"}) for vf in status.vfs]
    host = bare_metal(status.model_copy(update={"vfs": vfs}), vf_admin_macs={VF0: "00:00:00:00:00:00"})
    assert "setVfAdminMac" not in [kind for kind, _, _ in said([wanted(groups=[group("netdevice")])], host)]
    ethernet = bare_metal(
        status.model_copy(update={"vfs": vfs, "link_type": "ETH"}), vf_admin_macs={VF0: "00:00:00:00:00:00"}
    )
    assert "setVfAdminMac" in [kind for kind, _, _ in said([wanted(groups=[group("netdevice")])], ethernet)]


def test_a_pf_with_no_vfs_and_none_wanted_needs_nothing() -> None:
    assert said([wanted(numVfs=0)], bare_metal(pf(numVfs=None, Vfs=[]))) == []


def test_vf_drivers_wait_while_the_eswitch_mode_changes() -> None:
    spec = wanted(eSwitchMode="switchdev", groups=[group("vfio-pci")])
    assert "bindDriver" not in [kind for kind, _, _ in said([spec], bare_metal(pf(eSwitchMode="legacy")))]


def test_an_externally_managed_pf_is_taken_as_it_is() -> None:
    """No VFs wanted on a PF without any, legacy where devlink cannot tell, switchdev with its steering."""
    assert said([wanted(numVfs=0, externallyManaged=True)], bare_metal(pf(numVfs=None, Vfs=[]))) == []
    assert said([wanted(externallyManaged=True, eSwitchMode="legacy")], bare_metal(pf())) == []
    mlx5 = bare_metal(pf(eSwitchMode="switchdev", driver="mlx5_core"), flow_steering={PF: "dmfs"})
    assert said([wanted(externallyManaged=True, eSwitchMode="switchdev")], mlx5) == []


def test_an_externally_managed_pf_whose_mode_devlink_cannot_tell_is_taken_as_legacy() -> None:
    spec = wanted(externallyManaged=True, eSwitchMode="switchdev")
    assert refusal([spec], bare_metal(pf())) == (
        f"{LABEL}: externally managed in eswitch mode legacy but the spec wants switchdev; "
        "set the mode outside the operator or drop externallyManaged"
    )


PF2 = "0000:3b:00.1"


def second_pf() -> InterfaceExt:
    return pf(pciAddress=PF2, name="ens1f1", numVfs=0, Vfs=[])


def test_a_vdpa_group_after_a_plain_one_still_gets_its_bus_driver() -> None:
    spec = wanted(
        eSwitchMode="switchdev",
        groups=[group("netdevice", "0-0"), group("netdevice", "1-1", vdpaType="vhost")],
    )
    loads = [target for kind, target, _ in said([spec], switchdev_vfs()) if kind == "loadModule"]
    assert loads == ["vhost_vdpa"]


def test_every_pf_that_left_the_spec_loses_our_udev_rules() -> None:
    host = bare_metal(pf(), second_pf(), udev_rules={PF: "rules", PF2: "rules"})
    assert [(kind, target) for kind, target, _ in said([], host)] == [
        ("removeUdevRules", PF),
        ("removeUdevRules", PF2),
    ]


def test_every_bridge_of_the_spec_is_made() -> None:
    bridges = [
        {"name": "br0", "uplinks": [{"pciAddress": PF, "name": "ens1f0"}]},
        {"name": "br1", "uplinks": [{"pciAddress": PF2, "name": "ens1f1"}]},
    ]
    spec = SriovNetworkNodeStateSpec.model_validate({"bridges": {"ovs": bridges}})
    host = bare_metal(pf(), second_pf(), ovs=OvsState((), True))
    assert [(a.kind, a.target) for a in plan(spec, host).actions] == [
        ("createOvsBridge", PF),
        ("createOvsBridge", PF2),
    ]


def test_a_vm_port_without_num_vfs_has_only_vf_0() -> None:
    body = Interface.model_validate({"pciAddress": PORT, "vfGroups": [group("vfio-pci", "0-1")]})
    assert refusal([body], vm_with(KernelModules())) == (
        "spec.interfaces[0].vfGroups[0].vfRange: '0-1' is outside the VFs of this PF; "
        "accepted: 'a-b' or 'a' with 0 <= a <= b < numVfs (1)"
    )


def test_a_function_without_sr_iov_may_be_listed_with_no_vfs() -> None:
    assert said([wanted(numVfs=0)], bare_metal(pf(totalvfs=0, numVfs=None, Vfs=[]))) == []
    assert refusal([wanted(numVfs=1)], bare_metal(pf(totalvfs=0, numVfs=None, Vfs=[]))) == (
        f"{LABEL}: numVfs 1 is more than the device's 0"
    )
