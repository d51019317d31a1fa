"""Every action ``plan`` can take and the drain/reboot it needs: hand-built hosts, then the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import Interface, InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.host.actions import LinkUp
from sriov_operator.host.apply import converge
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import Plan, PlanError, plan
from sriov_operator.host.root import HostRoot
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.host.state import DeviceRecord, HostState, KernelModules

PF = "0000:3b:00.0"
VF0, VF1 = "0000:3b:02.0", "0000:3b:02.1"
PORT = "0000:00:04.0"
IOMMU = {"iommu_enabled": True, "modules": KernelModules(vfio_loaded=True, vfio_pci_loaded=True)}


def pf(**status: Any) -> InterfaceExt:
    body = {
        "pciAddress": PF,
        "name": "ens1f0",
        "totalvfs": 8,
        "numVfs": 2,
        "mtu": 1500,
        "linkAdminState": "up",
        "Vfs": [
            {"pciAddress": VF0, "vfID": 0, "driver": "iavf", "mtu": 1500},
            {"pciAddress": VF1, "vfID": 1, "driver": "iavf", "mtu": 1500},
        ],
        **status,
    }
    return InterfaceExt.model_validate(body)


def wanted(pci: str = PF, groups: list[dict[str, Any]] | None = None, **spec: Any) -> Interface:
    body = {"pciAddress": pci, "numVfs": 2, "vfGroups": groups or [], **spec}
    return Interface.model_validate(body)


def group(device_type: str = "netdevice", vf_range: str = "0-1", **extra: Any) -> dict[str, Any]:
    return {"resourceName": "r", "deviceType": device_type, "vfRange": vf_range, "policyName": "p", **extra}


BOOKKEEPING = {"rememberDevice", "writeUdevRules"}


def planned(interfaces: list[Interface], host: HostState) -> list[tuple[str, str, Any, str]]:
    """The plan without the bookkeeping (rememberDevice; writeUdevRules, see test_udev_rules.py)."""
    result = plan(SriovNetworkNodeStateSpec(interfaces=interfaces), host)
    return [
        (a.kind, a.target, a.shown_value(), a.requires) for a in result.actions if a.kind not in BOOKKEEPING
    ]


def bare_metal(*interfaces: InterfaceExt, **facts: Any) -> HostState:
    return HostState("baremetal", list(interfaces), **{**IOMMU, **facts})


def configured(*interfaces: Interface) -> dict[str, DeviceRecord]:
    return {i.pci_address: DeviceRecord.model_validate(i.model_dump()) for i in interfaces}


@pytest.mark.parametrize(
    ("spec", "status", "actions"),
    [
        pytest.param({}, {}, [], id="nothing-to-do"),
        pytest.param(
            {"eSwitchMode": "switchdev"},
            {},
            [  # devlink had no answer: the mode first, so a NIC without an eSwitch fails before anything
                ("setESwitchMode", PF, "switchdev", "drain"),
                ("setHwTcOffload", PF, "on", "none"),
            ],
            id="eswitch-needs-drain",
        ),
        pytest.param(
            {"eSwitchMode": "switchdev"},
            {"eSwitchMode": "legacy"},
            [  # its 2 VFs exist: upstream's order for a driver with none of its own
                ("unbindVFs", PF, None, "drain"),
                ("setESwitchModeWithVFs", PF, "switchdev", "drain"),
                ("bindVFs", PF, None, "none"),
                ("setHwTcOffload", PF, "on", "none"),
            ],
            id="eswitch-generic-order",
        ),
        pytest.param({"eSwitchMode": "legacy"}, {}, [], id="legacy-is-the-default-mode"),
        pytest.param(
            {"eSwitchMode": "switchdev"}, {"eSwitchMode": "switchdev"}, [], id="eswitch-already-set"
        ),
        pytest.param({"numVfs": 8}, {}, [("setNumVfs", PF, 8, "drain")], id="numvfs-up-to-totalvfs"),
        pytest.param({"numVfs": 0, "vfGroups": []}, {}, [("setNumVfs", PF, 0, "drain")], id="numvfs-to-zero"),
        pytest.param({"mtu": 9000}, {}, [("setPfMtu", PF, 9000, "none")], id="mtu-raised"),
        pytest.param({"mtu": 1400}, {}, [], id="mtu-never-lowered"),
        pytest.param({"mtu": 9000, "externallyManaged": True}, {}, [], id="externally-managed-mtu-untouched"),
        pytest.param({}, {"linkAdminState": "down"}, [("linkUp", PF, None, "none")], id="link-up"),
    ],
)
def test_pf_actions_and_what_they_require(
    spec: dict[str, Any], status: dict[str, Any], actions: list[tuple[str, str, Any, str]]
) -> None:
    assert planned([wanted(groups=[group()], **spec)], bare_metal(pf(**status))) == actions


def test_creating_vfs_over_existing_ones_says_zero_is_written_first() -> None:
    result = plan(SriovNetworkNodeStateSpec(interfaces=[wanted(numVfs=4)]), bare_metal(pf()))
    assert [a.reason for a in result.actions if a.kind == "setNumVfs"] == [
        "0000:3b:00.0 (ens1f0): 2 -> 4 VFs (0 is written first); VF drivers follow once the VFs exist"
    ]
    assert not any(a.kind == "bindDriver" for a in result.actions)  # VFs are planned once they exist


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"numVfs": 9}, "numVfs 9 is more than the device's 8"),
        ({"numVfs": 4, "externallyManaged": True}, "externally managed with 2 VFs but the spec wants 4"),
    ],
)
def test_pf_specs_that_cannot_be_applied(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(PlanError, match=words):
        plan(SriovNetworkNodeStateSpec(interfaces=[wanted(**spec)]), bare_metal(pf()))


def test_externally_managed_with_the_vfs_it_has_plans_only_the_vf_drivers() -> None:
    spec = wanted(groups=[group("vfio-pci", "0-0")], externallyManaged=True)
    assert planned([spec], bare_metal(pf())) == [("bindDriver", VF0, "vfio-pci", "drain")]


@pytest.mark.parametrize(
    ("groups", "vf_status", "actions"),
    [
        pytest.param(
            [group("vfio-pci", "0-0"), group("netdevice", "1-1")],
            {},
            [("bindDriver", VF0, "vfio-pci", "drain")],
            id="to-vfio-takes-the-netdevice-from-pods",
        ),
        pytest.param(
            [group("netdevice")],
            {"driver": "vfio-pci"},
            [("bindDriver", VF0, "default", "drain"), ("bindDriver", VF1, "default", "drain")],
            id="vfio-back-to-netdevice",
        ),
        pytest.param(
            [group("netdevice")],
            {"driver": None},
            [("bindDriver", VF0, "default", "none"), ("bindDriver", VF1, "default", "none")],
            id="unbound-vf-to-netdevice",
        ),
        pytest.param([group("vfio-pci")], {"driver": "vfio-pci"}, [], id="already-on-vfio"),
        pytest.param(
            [group("netdevice", mtu=9000)],
            {},
            [("setVfMtu", VF0, 9000, "none"), ("setVfMtu", VF1, 9000, "none")],
            id="vf-mtu",
        ),
        pytest.param([group("netdevice", mtu=1500)], {}, [], id="vf-mtu-already-right"),
        pytest.param([group("vfio-pci", mtu=9000)], {"driver": "vfio-pci"}, [], id="no-vf-mtu-on-vfio"),
        pytest.param(
            [group("vfio-pci", "1-1")],
            {},
            [("bindDriver", VF1, "vfio-pci", "drain")],
            id="vfs-in-no-group-are-left-alone",
        ),
    ],
)
def test_vf_actions_and_what_they_require(
    groups: list[dict[str, Any]], vf_status: dict[str, Any], actions: list[tuple[str, str, Any, str]]
) -> None:
    status = pf()
    assert status.vfs is not None
    vfs = [vf.model_copy(update=vf_status) for vf in status.vfs]
    host = bare_metal(status.model_copy(update={"vfs": vfs}))
    assert planned([wanted(groups=groups)], host) == actions


def test_bare_metal_pf_leaving_the_spec_loses_its_vfs_then_is_forgotten() -> None:
    host = bare_metal(pf(), configured=configured(wanted()))
    assert planned([], host) == [("setNumVfs", PF, 0, "drain"), ("forgetDevice", PF, None, "none")]


def test_a_configured_device_that_is_gone_is_only_forgotten() -> None:
    host = bare_metal(configured=configured(wanted()))
    assert planned([], host) == [("forgetDevice", PF, None, "none")]


def port(driver: str | None) -> InterfaceExt:
    return InterfaceExt.model_validate({"pciAddress": PORT, "name": "ens4", "numVfs": 1, "driver": driver})


def vm(driver: str | None, **facts: Any) -> HostState:
    ready = KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True)
    return HostState("openstack", [port(driver)], modules=ready, **facts)


def dpdk_port() -> Interface:
    return wanted(PORT, [group("vfio-pci", "0-0")], numVfs=1)


def test_binding_a_port_nobody_uses_needs_no_drain() -> None:
    assert planned([dpdk_port()], vm("virtio-pci")) == [("bindDriver", PORT, "vfio-pci", "none")]


def test_binding_a_port_we_configured_before_needs_a_drain() -> None:
    host = vm("virtio-pci", configured=configured(wanted(PORT, numVfs=1)))
    assert planned([dpdk_port()], host) == [("bindDriver", PORT, "vfio-pci", "drain")]


def test_port_leaving_the_spec_goes_back_to_its_default_driver() -> None:
    host = vm("vfio-pci", configured=configured(dpdk_port()))
    assert planned([], host) == [
        ("bindDriver", PORT, "default", "drain"),
        ("forgetDevice", PORT, None, "none"),
    ]


def test_port_on_its_own_driver_leaving_the_spec_is_only_forgotten() -> None:
    host = vm("virtio-pci", configured=configured(dpdk_port()))
    assert planned([], host) == [("forgetDevice", PORT, None, "none")]


@pytest.mark.parametrize(
    ("modules", "actions"),
    [
        (
            KernelModules(),
            [
                ("loadModule", "vfio", "enable_unsafe_noiommu_mode=1", "none"),
                ("loadModule", "vfio_pci", None, "none"),
            ],
        ),
        (
            KernelModules(vfio_loaded=True, vfio_pci_loaded=True),
            [("setModuleParameter", "vfio", "enable_unsafe_noiommu_mode=1", "none")],
        ),
        (KernelModules(vfio_loaded=True, vfio_pci_loaded=True, noiommu_enabled=True), []),
    ],
)
def test_vfio_modules_in_a_vm(modules: KernelModules, actions: list[tuple[str, str, Any, str]]) -> None:
    host = HostState("openstack", [port("vfio-pci")], modules=modules)
    assert planned([dpdk_port()], host) == actions


def test_bare_metal_loads_vfio_pci_when_it_is_missing() -> None:
    host = bare_metal(pf(), modules=KernelModules())
    spec = wanted(groups=[group("vfio-pci")])
    assert planned([spec], host)[0] == ("loadModule", "vfio_pci", None, "none")


def test_the_plan_tells_drain_from_reboot() -> None:
    def plan_of(*requires: str) -> Plan:
        return Plan(tuple(LinkUp(PF, requires=r, reason="test") for r in requires))  # type: ignore[arg-type]

    assert (plan_of("none").requires_drain, plan_of("none").requires_reboot) == (False, False)
    assert (plan_of("none", "drain").requires_drain, plan_of("drain").requires_reboot) == (True, False)
    assert (plan_of("reboot").requires_drain, plan_of("reboot").requires_reboot) == (True, True)
    assert plan_of("drain").to_output()["requiresDrain"] is True
    assert plan_of("reboot").to_output()["requiresReboot"] is True


def test_a_device_recorded_as_configured_is_not_recorded_again() -> None:
    spec = wanted(groups=[group()])
    fresh = plan(SriovNetworkNodeStateSpec(interfaces=[spec]), bare_metal(pf()))
    again = plan(SriovNetworkNodeStateSpec(interfaces=[spec]), bare_metal(pf(), configured=configured(spec)))
    assert [a.kind for a in fresh.actions] == ["rememberDevice"]
    assert [a.requires for a in fresh.actions] == ["none"]
    assert again.actions == ()


def test_vfs_on_vfio_go_back_to_their_netdevice_driver_on_the_simulated_kernel(intel_host: HostRoot) -> None:
    def spec(device_type: str) -> SriovNetworkNodeStateSpec:
        groups = [
            {"resourceName": "r", "deviceType": device_type, "vfRange": "0-1"},
            {"resourceName": "net", "deviceType": "netdevice", "vfRange": "2-3"},
        ]
        return SriovNetworkNodeStateSpec.model_validate(
            {"interfaces": [{"pciAddress": "0000:3b:00.1", "numVfs": 4, "vfGroups": groups}]}
        )

    node = NodeHost.open(intel_host.root, io=simulated_io(intel_host.root))
    converge(node.access, spec("vfio-pci"), node.observe)
    back = plan(spec("netdevice"), node.observe())
    assert [(a.kind, a.shown_value(), a.requires) for a in back.actions if a.kind != "rememberDevice"] == [
        ("bindDriver", "default", "drain"),
        ("bindDriver", "default", "drain"),
    ]
    assert back.requires_drain
    converge(node.access, spec("netdevice"), node.observe)
    vfs = node.discover(checkpoint=False).interfaces[1].vfs
    assert vfs is not None
    assert [vf.driver for vf in vfs] == ["iavf"] * 4
    assert all(vf.name for vf in vfs)  # netdevices again


def test_plan_output_names_every_field() -> None:
    action = LinkUp(PF, reason="it carries VFs")
    assert Plan((action,)).to_output() == {
        "actions": [
            {"action": "linkUp", "target": PF, "value": None, "requires": "none", "reason": "it carries VFs"}
        ],
        "requiresDrain": False,
        "requiresReboot": False,
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"numVfs": 2},
            "0000:00:04.0: virtual platform: numVfs must be 1 (a VM port is one PCI function), not 2",
        ),
        (
            {"eSwitchMode": "switchdev"},
            "0000:00:04.0: virtual platform: eSwitchMode is set on the hypervisor",
        ),
        (
            {"vfGroups": [group("vfio-pci", "0-0"), group("netdevice", "0-0")]},
            "spec.interfaces[0].vfGroups[1].vfRange: VF 0 is also in spec.interfaces[0].vfGroups[0]",
        ),
        (
            {"vfGroups": [group("vfio-pci", "1-1")]},
            "spec.interfaces[0].vfGroups[0].vfRange: '1-1' is outside the VFs of this PF",
        ),
    ],
)
def test_port_specs_a_vm_cannot_have(spec: dict[str, Any], message: str) -> None:
    body = {"pciAddress": PORT, "numVfs": 1, **spec}
    with pytest.raises(PlanError) as raised:
        plan(SriovNetworkNodeStateSpec(interfaces=[Interface.model_validate(body)]), vm("virtio-pci"))
    assert str(raised.value).startswith(message)


def test_port_without_vf_groups_is_only_remembered() -> None:
    result = plan(SriovNetworkNodeStateSpec(interfaces=[wanted(PORT, numVfs=1)]), vm("virtio-pci"))
    assert [a.kind for a in result.actions] == ["rememberDevice"]


def test_no_vf_mtu_for_a_vf_about_to_go_to_vfio() -> None:
    spec = wanted(groups=[group("vfio-pci", "0-1", mtu=9000)])
    assert planned([spec], bare_metal(pf())) == [
        ("bindDriver", VF0, "vfio-pci", "drain"),
        ("bindDriver", VF1, "vfio-pci", "drain"),
    ]
