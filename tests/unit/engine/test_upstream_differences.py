"""Deliberate differences from upstream (docs/policy-engine.md) and nodes not discovered yet."""

from __future__ import annotations

from typing import Any

from tests.unit.engine.builders import (
    NS,
    messages,
    node,
    pf,
    policy,
    render,
    resources,
    state,
    worker,
)

PF0 = "0000:3b:00.0"
EXISTING_SPEC = {"interfaces": [{"pciAddress": PF0, "numVfs": 2, "name": "ens1f0"}]}


def _pool(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkPoolConfig",
        "metadata": {"name": "pool", "namespace": NS},
        "spec": {"rdmaMode": mode, "nodeSelector": {}},
    }


def _state_waiting_for_discovery(name: str) -> dict[str, Any]:
    waiting = state(name, [])
    waiting["spec"] = EXISTING_SPEC
    return waiting


def test_node_state_without_interfaces_keeps_its_spec_and_exposes_nothing() -> None:
    result = render([_pool("exclusive"), node("w1"), _state_waiting_for_discovery("w1"), policy("p")])
    assert result.node_states["w1"] == EXISTING_SPEC  # left alone: no rdmaMode added, nothing removed
    assert result.device_plugin["w1"] == {"resourceList": []}
    assert any(
        "w1: status.interfaces: not discovered yet (no interfaces in status)" in m
        for m in messages(result, "warning")
    )


def test_node_without_node_state_gets_the_spec_it_is_created_with_and_exposes_nothing() -> None:
    result = render([_pool("shared"), node("w1"), policy("p")])
    assert result.node_states["w1"] == {"system": {"rdmaMode": "shared"}}
    assert result.device_plugin["w1"] == {"resourceList": []}
    assert any("not discovered yet (no SriovNetworkNodeState)" in m for m in messages(result, "warning"))


def test_undiscovered_node_selected_by_no_policy_gets_no_warning() -> None:
    result = render([node("w1"), _state_waiting_for_discovery("w1"), policy("p", node_selector={"x": "y"})])
    assert not [m for m in messages(result, "warning") if "not discovered" in m]


def test_one_undiscovered_node_does_not_stop_the_other_nodes() -> None:
    """Upstream's device-plugin sync fails for the whole cluster; every other node is rendered here."""
    port = pf("eth0", PF0, vendor="1af4", device="1000", netFilter="openstack/NetworkID:net-a")
    net_filter = policy("p", nicSelector={"netFilter": "openstack/NetworkID:net-a"}, numVfs=1)
    result = render(
        [node("vm1"), state("vm1", [port]), node("vm2"), _state_waiting_for_discovery("vm2"), net_filter]
    )
    assert resources(result, "vm1")["p"]["selectors"]["pciAddresses"] == [PF0]
    assert result.device_plugin["vm2"] == {"resourceList": []}


def test_policy_selecting_no_pf_on_a_node_exposes_no_resource_there() -> None:
    """Upstream lists its selectors: they can match another resource's VFs (X710, XXV710: both 154c)."""
    result = render([*worker(), policy("p", nicSelector={"pfNames": ["ens9f0"]})])
    assert result.device_plugin["w1"] == {"resourceList": []}
    assert result.node_states["w1"] == {}
    assert any("matches no interface of the node" in m for m in messages(result, "warning"))


def test_num_vfs_above_totalvfs_is_an_error_for_every_vendor() -> None:
    broadcom = pf("ens1f0", PF0, vendor="14e4", device="16d7", totalvfs=8)
    result = render([*worker(interfaces=[broadcom]), policy("p", numVfs=9)])
    assert any("spec.numVfs: 9 is above totalvfs 8" in m for m in messages(result))
    assert result.node_states["w1"] == {}


def test_externally_managed_disagreement_on_a_pf_shared_through_root_devices_and_vendor() -> None:
    """Upstream checks this only between policies naming the PF in pfNames."""
    by_root = policy("by-root", nicSelector={"rootDevices": [PF0]}, externallyManaged=True, priority=10)
    by_vendor = policy("by-vendor", nicSelector={"vendor": "8086"}, priority=20, numVfs=4)
    errors = messages(render([*worker(interfaces=[pf("ens1f0", PF0, numVfs=8)]), by_root, by_vendor]))
    assert [m.split(":")[0] for m in errors if "spec.externallyManaged: differs from policy" in m] == [
        f"SriovNetworkNodePolicy/{NS}/by-root",
        f"SriovNetworkNodePolicy/{NS}/by-vendor",
    ]


def test_a_pf_name_on_no_selected_node_is_refused_once_every_node_is_discovered() -> None:
    result = render([*worker("w1"), *worker("w2"), policy("p", nicSelector={"pfNames": ["ens1f0", "ens9"]})])
    assert messages(result) == [
        f"SriovNetworkNodePolicy/{NS}/p: spec.nicSelector.pfNames[1]: ens9 names no interface "
        "(name or altName) of the 2 node(s) the policy selects, so no NIC is selected by it; "
        "accepted: a PF name that SriovNetworkNodeState status.interfaces lists"
    ]


def test_a_pf_name_on_no_discovered_node_is_a_warning_while_discovery_is_pending() -> None:
    result = render([*worker("w1"), node("w2"), policy("p", nicSelector={"pfNames": ["ens9"]})])
    assert messages(result) == []
    assert (
        f"SriovNetworkNodePolicy/{NS}/p: spec.nicSelector.pfNames[0]: ens9 names no interface of the "
        "discovered nodes it selects; accepted for now, since 1 selected node(s) are not discovered yet "
        "(first: w2)"
    ) in messages(result, "warning")


def test_a_pf_named_on_some_selected_node_is_accepted() -> None:
    other = [node("w2"), state("w2", [pf("ens9", "0000:5e:00.0")])]
    result = render([*worker("w1"), *other, policy("p", nicSelector={"pfNames": ["ens9"]})])
    assert messages(result) == []


def test_a_pf_and_its_alt_name_in_two_policies_without_ranges_is_a_priority_override() -> None:
    """Upstream refuses the pair; here the lower priority number takes the PF (docs/differences.md)."""
    pfs = [pf("ens1f0", PF0, altNames=["uplink0"])]
    result = render(
        [
            node("w1"),
            state("w1", pfs),
            policy("base", priority=90, nicSelector={"pfNames": ["ens1f0"]}),
            policy("override", priority=10, nicSelector={"pfNames": ["uplink0"]}),
        ]
    )
    assert messages(result) == []
    assert set(resources(result)) == {"override"}


def test_a_node_state_that_fails_the_schema_is_not_called_missing() -> None:
    broken = state("w1")
    broken["status"]["syncStatus"] = "Sideways"
    result = render([node("w1"), broken, policy("p")])
    warnings = messages(result, "warning")
    assert any(
        "not discovered yet (its SriovNetworkNodeState is invalid, see its errors)" in m for m in warnings
    )
    assert not any("no SriovNetworkNodeState" in m for m in warnings)


def test_drain_disabled_is_warned_about() -> None:
    config = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {"disableDrain": True},
    }
    result = render([*worker(), config])
    assert any(
        m.startswith(f"SriovOperatorConfig/{NS}/default: spec.disableDrain: true: nodes are not drained")
        for m in messages(result, "warning")
    )
