"""``diff``: per-node spec changes and the drain/reboot each would cost, from the host layer's plan."""

from __future__ import annotations

from typing import Any

from sriov_operator.commands.diff import format_text
from sriov_operator.commands.diff.changes import diff_cluster, spec_changes, to_output
from tests.unit.engine.builders import NS, documents, node, pf, policy, state

BAREMETAL_PF = pf("ens1f0", "0000:3b:00.0", numVfs=8, driver="ice", linkAdminState="up")


def _vfs(count: int, mtu: int = 1500) -> list[dict[str, Any]]:
    return [
        {"pciAddress": f"0000:3b:02.{i}", "vfID": i, "driver": "iavf", "mtu": mtu, "name": f"ens1f0v{i}"}
        for i in range(count)
    ]


def _baremetal(current_policy: dict[str, Any]) -> list[dict[str, Any]]:
    converged = state("w1", [{**BAREMETAL_PF, "Vfs": _vfs(8)}])
    return [node("w1"), converged, current_policy]


def test_numvfs_change_on_bare_metal_needs_a_drain() -> None:
    current = _baremetal(policy("p", numVfs=8))
    result = diff_cluster(documents(current), documents([policy("p", numVfs=16)]), None, "openshift.io")
    [change] = result.nodes
    assert change.node == "w1"
    assert change.requires == "drain"
    assert "interfaces[0000:3b:00.0].numVfs: 8 -> 16" in change.changes
    assert any(
        reason.startswith("setNumVfs: 0000:3b:00.0 (ens1f0): 8 -> 16 VFs") for reason in change.reasons
    )
    assert result.totals()["drains"] == 1


def test_mtu_only_change_needs_no_drain() -> None:
    current = _baremetal(policy("p", numVfs=8))
    result = diff_cluster(
        documents(current), documents([policy("p", numVfs=8, mtu=9000)]), None, "openshift.io"
    )
    [change] = result.nodes
    assert change.requires == "none"
    assert change.reasons == ()
    assert "interfaces[0000:3b:00.0].mtu: (none) -> 9000" in change.changes


def test_mtu_only_change_on_an_openstack_vm_needs_no_drain() -> None:
    port = pf(
        "ens4",
        "0000:00:04.0",
        vendor="8086",
        device="154c",
        numVfs=1,
        totalvfs=1,
        driver="iavf",
        netFilter="openstack/NetworkID:n1",
    )
    vm = [node("vm1", provider_id="openstack:///x"), state("vm1", [port])]
    selector = {"netFilter": "openstack/NetworkID:n1"}
    before = policy("p", numVfs=1, nicSelector=selector)
    after = policy("p", numVfs=1, nicSelector=selector, mtu=9000)
    result = diff_cluster(documents([*vm, before]), documents([after]), None, "openshift.io")
    [change] = result.nodes
    assert change.requires == "none"


def test_no_change_is_no_change() -> None:
    current = _baremetal(policy("p", numVfs=8))
    result = diff_cluster(documents(current), documents([policy("p", numVfs=8)]), None, "openshift.io")
    assert not result.changed
    assert to_output(result)["totals"]["nodesChanged"] == 0


def test_an_object_the_webhook_refuses_is_the_answer_not_a_change_list() -> None:
    small = [node("w1"), state("w1", [{**BAREMETAL_PF, "totalvfs": 8}]), policy("p", numVfs=8)]
    result = diff_cluster(documents(small), documents([policy("p", numVfs=9)]), None, "openshift.io")
    [refusal] = result.refused
    assert refusal.startswith("SriovNetworkNodePolicy/sriov-network-operator/p: spec.numVfs: 9 is above")
    assert result.nodes == [] and result.failed


def test_an_invalid_policy_lists_no_removed_interfaces() -> None:
    current = _baremetal(policy("p", numVfs=8))
    invalid = policy("p", numVfs=8, deviceType="vfio-pci", isRdma=True)
    result = diff_cluster(documents(current), documents([invalid]), None, "openshift.io")
    assert [line.split(": ")[1] for line in result.refused] == ["spec.isRdma"]
    assert result.nodes == [] and result.nads == []
    assert to_output(result)["totals"]["nodesChanged"] == 0


def test_numvfs_2_on_a_vm_port_is_refused_as_the_webhook_refuses_it() -> None:
    port = pf("ens4", "0000:00:04.0", vendor="15b3", device="101e", numVfs=1, totalvfs=1, driver="mlx5_core")
    vm = [
        node("vm1", provider_id="openstack:///x"),
        state("vm1", [{**port, "netFilter": "openstack/NetworkID:n1"}]),
    ]
    selected = policy("hw", numVfs=2, nicSelector={"netFilter": "openstack/NetworkID:n1"})
    result = diff_cluster(documents(vm), documents([selected]), None, "openshift.io")
    [refusal] = result.refused
    assert "spec.numVfs: 2 is more than the one PCI function of VM port ens4 (0000:00:04.0)" in refusal
    assert result.nodes == []


def test_a_policy_outside_the_operator_namespace_is_warned_about() -> None:
    current = _baremetal(policy("p", numVfs=8))
    elsewhere = policy("q", numVfs=8)
    elsewhere["metadata"]["namespace"] = "elsewhere"
    result = diff_cluster(documents(current), documents([elsewhere]), None, "openshift.io")
    [warning] = result.warnings
    assert "'elsewhere' is not the operator namespace 'sriov-network-operator'" in warning
    assert not result.changed and not result.failed


def test_spec_changes_match_list_items_by_key() -> None:
    before = {"interfaces": [{"pciAddress": "a", "numVfs": 1}, {"pciAddress": "b", "numVfs": 2}]}
    after = {"interfaces": [{"pciAddress": "b", "numVfs": 2}]}
    assert spec_changes(before, after) == ['interfaces.a: {"pciAddress":"a","numVfs":1} -> (none)']


def test_spec_changes_show_values_as_json_not_python() -> None:
    after = {"interfaces": [{"pciAddress": "a", "vfGroups": [{"resourceName": "r", "isRdma": True}]}]}
    assert spec_changes({}, after) == [
        'interfaces: (none) -> [{"pciAddress":"a","vfGroups":[{"resourceName":"r","isRdma":true}]}]'
    ]
    assert spec_changes({"isRdma": False}, {"isRdma": True}) == ["isRdma: false -> true"]


def _config(disable_drain: bool) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {"disableDrain": disable_drain},
    }


def test_turning_drains_off_while_a_node_is_in_progress_is_refused_as_the_webhook_refuses_it() -> None:
    busy = [node("w1"), state("w1", [BAREMETAL_PF], syncStatus="InProgress")]
    result = diff_cluster(
        documents([*busy, _config(False)]), documents([_config(True)]), None, "openshift.io"
    )
    [refusal] = result.refused
    assert "spec.disableDrain: cannot be turned on while node(s) w1 are InProgress" in refusal
    already_off = diff_cluster(
        documents([*busy, _config(True)]), documents([_config(True)]), None, "openshift.io"
    )
    assert already_off.refused == []
    assert any("spec.disableDrain: true: nodes are not drained" in w for w in already_off.warnings)


def test_a_policy_selecting_no_device_is_named_as_its_status_names_it() -> None:
    """`diff` against the cluster said nothing of a policy that configures nothing (issue 22, item 1)."""
    current = _baremetal(policy("p", numVfs=8))
    typo = policy("typo", numVfs=4, nicSelector={"vendor": "15b3"})
    result = diff_cluster(documents(current), documents([typo]), None, "openshift.io")
    assert result.policy_notes == [
        "typo: selects no device on 1 of 1 nodes: w1 (its nicSelector matches no interface there, "
        "or policies applied after it take every PF it selects)"
    ]
    assert to_output(result)["policyNotes"] == result.policy_notes
    assert "policy typo: selects no device on 1 of 1 nodes: w1" in format_text(result)
    unrelated = diff_cluster(documents([*current, typo]), documents([policy("p", numVfs=16)]), None, "x")
    assert unrelated.policy_notes == []  # typo neither applied nor changed


MLX5_PF = pf(
    "ens2f1np1", "0000:5e:00.1", vendor="15b3", device="101d", driver="mlx5_core", eSwitchMode="legacy"
)
BRIDGES_ON = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovOperatorConfig",
    "metadata": {"name": "default", "namespace": NS},
    "spec": {"featureGates": {"manageSoftwareBridges": True}},
}


def _offload_policy(**bridge: Any) -> dict[str, Any]:
    selector = {"pfNames": ["ens2f1np1"]}
    return policy("hwoffload1", numVfs=2, eSwitchMode="switchdev", nicSelector=selector, **bridge)


def test_a_policy_bridge_is_predicted_as_if_open_vswitch_runs_on_the_node() -> None:
    current = [node("w1"), state("w1", [MLX5_PF]), BRIDGES_ON]
    bridged = _offload_policy(bridge={"ovs": {"bridge": {"datapathType": "system"}}})
    result = diff_cluster(documents(current), documents([bridged]), None, "openshift.io")
    [change] = result.nodes
    assert change.error is None
    created = 'bridges: (none) -> {"ovs":[{"name":"br-0000_5e_00.1"'
    assert any(line.startswith(created) for line in change.changes)
    assert change.requires == "drain"  # the switchdev order's; creating the bridge itself needs none


def test_a_bridge_leaving_the_spec_is_removed_from_what_the_status_reports_and_needs_a_drain() -> None:
    switchdev = {**MLX5_PF, "eSwitchMode": "switchdev", "numVfs": 2}
    ours = {"name": "br-0000_5e_00.1", "uplinks": [{"pciAddress": "0000:5e:00.1", "name": "ens2f1np1"}]}
    converged = state("w1", [switchdev], bridges={"ovs": [ours]})
    current = [node("w1"), converged, BRIDGES_ON, _offload_policy(bridge={"ovs": {}})]
    result = diff_cluster(documents(current), documents([_offload_policy()]), None, "openshift.io")
    [change] = result.nodes
    assert change.requires == "drain"
    assert change.reasons == (
        "removeOvsBridge: OVS bridge br-0000_5e_00.1 is ours and no longer in spec.bridges",
    )


def test_more_vfs_than_a_mellanox_firmware_offers_is_priced_as_a_firmware_reboot_not_refused() -> None:
    offers_8 = {**MLX5_PF, "totalvfs": 8}
    selector = {"pfNames": ["ens2f1np1"]}
    current = [node("w1"), state("w1", [offers_8]), policy("p", numVfs=4, nicSelector=selector)]
    wanted = policy("p", numVfs=16, nicSelector=selector)
    result = diff_cluster(documents(current), documents([wanted]), None, "openshift.io")
    [change] = result.nodes
    assert change.error is None
    assert change.requires == "reboot"
    assert any(
        reason.startswith("setFirmwareConfig: 0000:5e:00.1 (ens2f1np1): card firmware NUM_OF_VFS 8 -> 16")
        for reason in change.reasons
    )


def test_more_vfs_than_an_intel_pf_offers_is_still_refused() -> None:
    offers_8 = {**BAREMETAL_PF, "totalvfs": 8, "numVfs": 0}
    current = [node("w1"), state("w1", [offers_8]), policy("p", numVfs=4)]
    result = diff_cluster(documents(current), documents([policy("p", numVfs=16)]), None, "openshift.io")
    assert all(change.requires == "none" for change in result.nodes)
    assert result.refused or any(change.error for change in result.nodes)
