"""A PF leaving the spec gets back what it had, externally managed PFs keep their mode, VFs keep their MAC.

Pure plans on hand-built hosts first, then the same rules on the simulated kernel.
"""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.host.apply import converge
from sriov_operator.host.plan import NO_MAC, PlanError, plan
from sriov_operator.host.root import PCI_DEVICES, PCI_DRIVERS, PCI_DRIVERS_PROBE, HostRoot
from sriov_operator.host.state import DeviceRecord
from tests.unit.host.conftest import sim_node
from tests.unit.host.test_plan_requirements import PF, VF0, VF1, bare_metal, group, pf, planned, wanted

INTEL_PF = "0000:3b:00.1"
MLX_PF = "0000:5e:00.0"


def record(**fields: Any) -> dict[str, DeviceRecord]:
    return {PF: DeviceRecord.model_validate({"pciAddress": PF, "numVfs": 2, **fields})}


def recorded(interfaces: list[Any], host: Any) -> dict[str, Any]:
    """The record the plan writes for PF."""
    actions = plan(SriovNetworkNodeStateSpec(interfaces=interfaces), host).actions
    return next(a.shown_value() for a in actions if a.kind == "rememberDevice")


# ------------------------------------------------------------------------------------------ pure: the reset
def test_pf_leaving_the_spec_gets_back_its_eswitch_mode_and_mtu_after_its_vfs_go() -> None:
    now = pf(mtu=9000, eSwitchMode="switchdev")
    host = bare_metal(now, configured=record(originalMtu=1500, originalESwitchMode="legacy"))
    assert planned([], host) == [
        ("setNumVfs", PF, 0, "drain"),
        ("restoreESwitchMode", PF, "legacy", "drain"),
        ("restorePfMtu", PF, 1500, "none"),
        ("forgetDevice", PF, None, "none"),
    ]


def test_pf_leaving_the_spec_as_it_was_only_loses_its_vfs() -> None:
    host = bare_metal(
        pf(eSwitchMode="legacy"), configured=record(originalMtu=1500, originalESwitchMode="legacy")
    )
    assert planned([], host) == [("setNumVfs", PF, 0, "drain"), ("forgetDevice", PF, None, "none")]


def test_a_record_without_originals_gives_nothing_back_it_does_not_know() -> None:
    host = bare_metal(pf(mtu=9000, eSwitchMode="switchdev"), configured=record())
    assert planned([], host) == [("setNumVfs", PF, 0, "drain"), ("forgetDevice", PF, None, "none")]


def test_an_externally_managed_pf_leaving_the_spec_keeps_its_mode_and_mtu() -> None:
    originals = {"originalMtu": 1500, "originalESwitchMode": "legacy", "externallyManaged": True}
    host = bare_metal(pf(mtu=9000, eSwitchMode="switchdev"), configured=record(**originals))
    assert planned([], host) == [("forgetDevice", PF, None, "none")]


def test_the_first_record_keeps_how_the_pf_was_and_later_ones_carry_it_on() -> None:
    spec = [wanted(groups=[group()], mtu=9000)]
    first = recorded(spec, bare_metal(pf(mtu=1500, eSwitchMode="legacy")))
    assert (first["originalMtu"], first["originalESwitchMode"]) == (1500, "legacy")
    known = record(originalMtu=1500, originalESwitchMode="legacy")
    later = recorded([wanted(groups=[group()], mtu=9100)], bare_metal(pf(mtu=9000), configured=known))
    assert (later["originalMtu"], later["originalESwitchMode"]) == (1500, "legacy")
    assert "originalESwitchMode" not in recorded(spec, bare_metal(pf()))  # no eSwitch: nothing to give back


# ------------------------------------------------------------------------------- pure: externally managed
def test_an_eswitch_change_on_an_externally_managed_pf_is_refused_naming_both_modes() -> None:
    spec = wanted(groups=[group()], externallyManaged=True, eSwitchMode="switchdev")
    with pytest.raises(PlanError) as refused:
        plan(SriovNetworkNodeStateSpec(interfaces=[spec]), bare_metal(pf(eSwitchMode="legacy")))
    assert str(refused.value) == (
        "0000:3b:00.0 (ens1f0): externally managed in eswitch mode legacy but the spec wants switchdev; "
        "set the mode outside the operator or drop externallyManaged"
    )


def test_an_externally_managed_pf_already_in_the_wanted_mode_is_fine() -> None:
    spec = wanted(groups=[group()], externallyManaged=True, eSwitchMode="switchdev")
    assert planned([spec], bare_metal(pf(eSwitchMode="switchdev"))) == []


# ---------------------------------------------------------------------------------- pure: VF admin MACs
def vfs(**update: Any) -> InterfaceExt:
    status = pf()
    assert status.vfs is not None
    macs = ["02:a0:00:00:00:01", "02:a0:00:00:00:02"]
    return status.model_copy(
        update={
            "vfs": [
                vf.model_copy(update={"mac": mac, **update}) for vf, mac in zip(status.vfs, macs, strict=True)
            ]
        }
    )


@pytest.mark.parametrize(
    ("groups", "admin", "vf_update", "actions"),
    [
        pytest.param(
            [group("netdevice")],
            {VF0: NO_MAC, VF1: "02:a0:00:00:00:02"},
            {},
            [("setVfAdminMac", VF0, "02:a0:00:00:00:01", "none")],
            id="pinned-where-not-yet",
        ),
        pytest.param(
            [group("vfio-pci", "0-0")],
            {VF0: NO_MAC, VF1: NO_MAC},
            {},
            [("setVfAdminMac", VF0, "02:a0:00:00:00:01", "none"), ("bindDriver", VF0, "vfio-pci", "drain")],
            id="before-vfio-takes-the-netdev",
        ),
        pytest.param([group("netdevice")], {}, {}, [], id="pf-reports-no-admin-macs"),
        pytest.param(
            [group("vfio-pci")],
            {VF0: NO_MAC, VF1: NO_MAC},
            {"driver": "vfio-pci"},
            [],
            id="on-vfio-no-mac-to-pin",
        ),
        pytest.param(
            [group("netdevice", "1-1")],
            {VF0: NO_MAC, VF1: NO_MAC},
            {},
            [("setVfAdminMac", VF1, "02:a0:00:00:00:02", "none")],
            id="only-vfs-in-a-group",
        ),
    ],
)
def test_vf_admin_mac(
    groups: list[dict[str, Any]], admin: dict[str, str], vf_update: dict[str, Any], actions: list[Any]
) -> None:
    assert planned([wanted(groups=groups)], bare_metal(vfs(**vf_update), vf_admin_macs=admin)) == actions


# ------------------------------------------------------------------------------------------- simulator
def intel(mtu: int | None, device_type: str = "netdevice") -> SriovNetworkNodeStateSpec:
    groups = [{"resourceName": "r", "deviceType": device_type, "vfRange": "0-3"}]
    interface = {"pciAddress": INTEL_PF, "numVfs": 4, "vfGroups": groups, **({"mtu": mtu} if mtu else {})}
    return SriovNetworkNodeStateSpec.model_validate({"interfaces": [interface]})


def test_a_reset_on_the_simulated_kernel_restores_the_original_mtu(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    converge(node.access, intel(9000), node.observe)
    assert node.discover(checkpoint=False).interfaces[1].mtu == 9000
    converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    after = node.discover(checkpoint=False).interfaces[1]
    assert (after.mtu, after.num_vfs) == (1500, 0)
    assert node.observe().configured == {}


def test_a_reset_on_the_simulated_kernel_restores_legacy_mode(mellanox_host: HostRoot) -> None:
    node = sim_node(mellanox_host)
    spec = {"interfaces": [{"pciAddress": MLX_PF, "numVfs": 2, "eSwitchMode": "switchdev"}]}
    converge(node.access, SriovNetworkNodeStateSpec.model_validate(spec), node.observe)
    assert node.access.eswitch.mode(MLX_PF) == "switchdev"
    outcomes = converge(node.access, SriovNetworkNodeStateSpec(), node.observe)
    assert [o.action.kind for o in outcomes] == [
        "setNumVfs",
        "restoreESwitchMode",
        "restoreFlowSteeringMode",
        "setHwTcOffload",  # off, as it was
        "removeUdevRules",
        "forgetDevice",
    ]
    assert node.access.eswitch.mode(MLX_PF) == "legacy"


def _vf_macs(node: Any) -> dict[str, str | None]:
    return {vf.pci_address: vf.mac for vf in node.discover(checkpoint=False).interfaces[1].vfs or []}


def _reprobe(host: HostRoot, node: Any, vf: str) -> None:
    """The VF driver reloaded: unbind, then let the kernel probe it again."""
    node.access.writer.write_attribute(host.path(PCI_DRIVERS, "iavf", "unbind"), vf)
    node.access.writer.write_attribute(host.path(PCI_DRIVERS_PROBE), vf)
    assert host.path(PCI_DEVICES, vf, "driver").exists()


def test_without_an_admin_mac_a_reprobed_vf_comes_back_with_another_mac(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    node.access.writer.write_attribute(intel_host.path(PCI_DEVICES, INTEL_PF, "sriov_numvfs"), "4")
    vf, mac = next(iter(_vf_macs(node).items()))
    _reprobe(intel_host, node, vf)
    assert _vf_macs(node)[vf] != mac  # as iavf/mlx5 pick a random MAC: the simulator is no kinder


def test_configured_vfs_keep_their_mac_through_a_reprobe_and_a_trip_to_vfio(intel_host: HostRoot) -> None:
    node = sim_node(intel_host)
    converge(node.access, intel(None), node.observe)
    before = _vf_macs(node)
    assert node.observe().vf_admin_macs == before
    vf = next(iter(before))
    _reprobe(intel_host, node, vf)
    assert _vf_macs(node) == before
    converge(node.access, intel(None, "vfio-pci"), node.observe)
    converge(node.access, intel(None), node.observe)
    assert _vf_macs(node) == before
