"""OVS bridges (spec.bridges, manageSoftwareBridges): planned as create, update and remove, only ever ours.

Pure plans on hand-built host states first, then the whole round trip on the simulated
Mellanox host (switchdev, its Open vSwitch); the OVSDB side itself is tested against a
real ovsdb-server in tests/host/test_ovsdb.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.models import OVSConfigExt, SriovNetworkNodeStateSpec
from sriov_operator.host.apply import converge
from sriov_operator.host.ovs import FoundBridge, OvsState
from sriov_operator.host.plan import HostLacksSupportError, PlanError, plan
from sriov_operator.host.state import DeviceRecord, HostState
from tests.doc_runner import run_console
from tests.docs_examples import example
from tests.unit.host.conftest import make_host, sim_node
from tests.unit.host.test_plan_requirements import PF, bare_metal, pf, wanted

NAME = "br-0000_3b_00.0"
MLX_PF = "0000:5e:00.0"


def bridge(pci: str = PF, name: str = NAME, uplink: str = "ens1f0", **interface: Any) -> OVSConfigExt:
    return OVSConfigExt.model_validate(
        {
            "name": name,
            "bridge": {"failMode": "secure"},
            "uplinks": [{"pciAddress": pci, "name": uplink, "interface": interface or None}],
        }
    )


def spec(*bridges: OVSConfigExt, interfaces: list[Any] | None = None) -> SriovNetworkNodeStateSpec:
    return SriovNetworkNodeStateSpec.model_validate(
        {
            "interfaces": [i.to_k8s() for i in interfaces or []],
            "bridges": {"ovs": [b.to_k8s() for b in bridges]} if bridges else None,
        }
    )


def switchdev_host(*found: FoundBridge, hw_offload: bool = True, **facts: Any) -> HostState:
    return bare_metal(pf(eSwitchMode="switchdev"), ovs=OvsState(found, hw_offload), **facts)


def bridge_actions(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[tuple[str, str, str, str]]:
    return [
        (a.kind, a.target, a.requires, a.reason)
        for a in plan(desired, host).actions
        if "OvsBridge" in type(a).__name__
    ]


# ------------------------------------------------------------------------------------------------ pure
def test_a_bridge_in_the_spec_is_created_with_the_pf_as_uplink() -> None:
    [(kind, target, requires, reason)] = bridge_actions(spec(bridge()), switchdev_host())
    assert (kind, target, requires) == ("createOvsBridge", PF, "none")
    assert reason == f"spec.bridges wants OVS bridge {NAME} with uplink {PF} (ens1f0)"
    [action] = [a for a in plan(spec(bridge()), switchdev_host()).actions if a.kind == "createOvsBridge"]
    assert action.describe() == f"create OVS bridge {NAME} with uplink ens1f0 ({PF}), hw-offload on"


def test_our_bridge_as_the_spec_wants_it_needs_nothing() -> None:
    assert bridge_actions(spec(bridge()), switchdev_host(FoundBridge(bridge(), ours=True))) == []


def test_our_bridge_that_differs_is_updated_with_a_drain_naming_what_differs() -> None:
    found = FoundBridge(bridge(mtuRequest=1500), ours=True)
    assert bridge_actions(spec(bridge(mtuRequest=9000)), switchdev_host(found)) == [
        ("updateOvsBridge", PF, "drain", f"OVS bridge {NAME}: uplinks differ from spec.bridges")
    ]


def test_hw_offload_turned_off_by_someone_is_turned_on_again() -> None:
    found = FoundBridge(bridge(), ours=True)
    [(kind, _, _, reason)] = bridge_actions(spec(bridge()), switchdev_host(found, hw_offload=False))
    assert kind == "updateOvsBridge" and "hw-offload is not true" in reason


def test_our_bridge_that_left_the_spec_is_removed_and_another_ones_bridge_never() -> None:
    ours, theirs = FoundBridge(bridge(), ours=True), FoundBridge(bridge(name="br-ex", uplink="eno1"), False)
    assert bridge_actions(spec(), switchdev_host(ours, theirs)) == [
        ("removeOvsBridge", PF, "drain", f"OVS bridge {NAME} is ours and no longer in spec.bridges")
    ]


def test_removal_runs_before_the_uplink_gets_its_eswitch_mode_back() -> None:
    record = DeviceRecord.model_validate({"pciAddress": PF, "numVfs": 2, "originalESwitchMode": "legacy"})
    host = switchdev_host(FoundBridge(bridge(), ours=True), configured={PF: record})
    kinds = [a.kind for a in plan(spec(), host).actions]
    assert kinds.index("removeOvsBridge") < kinds.index("setNumVfs") < kinds.index("restoreESwitchMode")


def test_a_bridge_waits_while_its_uplink_is_still_switching_to_switchdev() -> None:
    entry = wanted(eSwitchMode="switchdev")
    host = bare_metal(pf(eSwitchMode="legacy"), ovs=OvsState())
    kinds = [a.kind for a in plan(spec(bridge(), interfaces=[entry]), host).actions]
    assert any("ESwitchMode" in kind for kind in kinds) and "createOvsBridge" not in kinds


@pytest.mark.parametrize(
    ("desired", "found", "words"),
    [
        (
            [bridge()],
            [FoundBridge(bridge(), ours=False)],
            f"OVS bridge {NAME} exists on the host and was not created by the operator",
        ),
        (
            [bridge()],
            [FoundBridge(bridge(name="br-ex"), ours=False)],
            "ens1f0\\): already a port of OVS bridge br-ex, which the operator did not create",
        ),
        ([bridge(pci="0000:99:00.0")], [], r"ovs\[0\] \(br-0000_3b_00.0\).uplinks\[0\].pciAddress: "),
        ([bridge(), bridge()], [], r"spec.bridges.ovs\[0\].name: br-0000_3b_00.0 is listed 2 times"),
        (
            [bridge().model_copy(update={"uplinks": []})],
            [],
            r"spec.bridges.ovs\[0\] \(br-0000_3b_00.0\).uplinks: 0 uplinks; accepted: exactly one",
        ),
    ],
)
def test_bridges_that_cannot_be_applied_are_refused_before_any_write(
    desired: list[OVSConfigExt], found: list[FoundBridge], words: str
) -> None:
    with pytest.raises(PlanError, match=words):
        plan(spec(*desired), switchdev_host(*found))


def test_a_host_without_open_vswitch_says_what_to_install() -> None:
    with pytest.raises(HostLacksSupportError, match=r"no OVSDB socket.*install Open vSwitch on the node"):
        plan(spec(bridge()), bare_metal(pf(eSwitchMode="switchdev")))
    assert bridge_actions(spec(), bare_metal(pf())) == []  # no bridges wanted: OVS does not matter


def test_the_uplink_carrying_the_nodes_traffic_is_never_put_on_a_bridge() -> None:
    with pytest.raises(PlanError, match="refusing createOvsBridge"):
        plan(spec(bridge()), switchdev_host(node_links={"ens1f0": "it carries the default route"}))


# ----------------------------------------------------------------------------------- simulated host
def test_create_update_and_remove_on_the_simulated_host(tmp_path: Any) -> None:
    node = sim_node(make_host(tmp_path, "baremetal-mellanox"))
    entry = {"pciAddress": MLX_PF, "numVfs": 2, "eSwitchMode": "switchdev", "vfGroups": []}
    interfaces = [SriovNetworkNodeStateSpec.model_validate({"interfaces": [entry]}).interfaces[0]]  # type: ignore[index]
    name = "br-0000_5e_00.0"
    desired = spec(bridge(MLX_PF, name, "ens2f0np0"), interfaces=interfaces)

    kinds = [o.action.kind for o in converge(node.access, desired, node.observe) if o.result == "done"]

    switched = next(i for i, kind in enumerate(kinds) if "ESwitchMode" in kind)
    assert switched < kinds.index("createOvsBridge")  # a later round: the uplink is ready
    state = node.observe().ovs
    assert state is not None and state.hw_offload
    [found] = state.bridges
    assert found.ours and found.uplink_pci == MLX_PF and found.config.name == name

    changed = spec(bridge(MLX_PF, name, "ens2f0np0", mtuRequest=9000), interfaces=interfaces)
    assert [o.action.kind for o in converge(node.access, changed, node.observe)] == ["updateOvsBridge"]

    assert [o.action.kind for o in converge(node.access, spec(interfaces=interfaces), node.observe)] == [
        "removeOvsBridge"
    ]
    assert node.observe().ovs == OvsState((), hw_offload=True)


def test_the_documented_bridge_session(tmp_path: Path) -> None:
    steps = run_console(example("host-ovs-bridge"), tmp_path, replace={"/tmp/bm": str(tmp_path / "bm")})
    assert [step.status for step in steps] == [0] * len(steps)
