"""Policies, node labels and NodeState status → NodeState spec (selection and merge rules)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.engine.builders import (
    NS,
    groups,
    interfaces,
    messages,
    node,
    output,
    pf,
    policy,
    render,
    state,
    worker,
)

PF0, PF1 = "0000:3b:00.0", "0000:3b:00.1"


@pytest.mark.parametrize(
    ("policies", "expected_groups", "expected_num_vfs"),
    [
        pytest.param(
            [policy("low", priority=50, numVfs=8), policy("high", priority=10, numVfs=4)],
            [("high", "0-3")],
            4,
            id="lower number wins and replaces overlapping groups",
        ),
        pytest.param(
            [policy("high", priority=10, numVfs=4), policy("low", priority=50, numVfs=8)],
            [("high", "0-3")],
            4,
            id="input order does not matter",
        ),
        pytest.param(
            [policy("a", priority=20, numVfs=4), policy("b", priority=20, numVfs=8)],
            [("b", "0-7")],
            8,
            id="equal priority: later name wins the overlap, numVfs is the max",
        ),
        pytest.param(
            [
                policy("a", priority=50, numVfs=8, nicSelector={"pfNames": ["ens1f0#0-3"]}),
                policy("b", priority=10, numVfs=8, nicSelector={"pfNames": ["ens1f0#4-7"]}),
            ],
            [("a", "0-3"), ("b", "4-7")],
            8,
            id="disjoint ranges of different resources are split",
        ),
        pytest.param(
            [
                policy("a", priority=50, numVfs=16, nicSelector={"pfNames": ["ens1f0#0-11"]}),
                policy("b", priority=10, numVfs=16, nicSelector={"pfNames": ["ens1f0#12-15"]}),
            ],
            [("a", "0-11"), ("b", "12-15")],
            16,
            id="kept groups keep their ranges",
        ),
        pytest.param(
            [
                policy("a", priority=50, numVfs=8, nicSelector={"pfNames": ["ens1f0#0-3"]}),
                policy("b", priority=10, numVfs=8, resourceName="a", nicSelector={"pfNames": ["ens1f0#4-7"]}),
            ],
            [("b", "4-7")],
            8,
            id="same resourceName replaces the older group (upstream rule)",
        ),
        pytest.param(
            [policy("a", numVfs=8), policy("zero", priority=10, numVfs=0)],
            [("a", "0-7")],
            8,
            id="numVfs 0 neither adds nor removes VFs",
        ),
    ],
)
def test_priority_and_merge(
    policies: list[dict[str, Any]], expected_groups: list[tuple[str, str]], expected_num_vfs: int
) -> None:
    result = render([*worker(), *policies])
    assert groups(result, PF0) == expected_groups
    assert interfaces(result)[PF0]["numVfs"] == expected_num_vfs


def test_equal_priority_takes_the_larger_mtu() -> None:
    result = render(
        [
            *worker(),
            policy("a", priority=20, mtu=9000, nicSelector={"pfNames": ["ens1f0#0-3"]}),
            policy("b", priority=20, mtu=1500, nicSelector={"pfNames": ["ens1f0#4-7"]}),
        ]
    )
    assert interfaces(result)[PF0]["mtu"] == 9000


def test_higher_priority_without_kept_groups_sets_its_own_mtu() -> None:
    result = render([*worker(), policy("a", priority=50, mtu=9000), policy("b", priority=10, mtu=1500)])
    assert interfaces(result)[PF0]["mtu"] == 1500


@pytest.mark.parametrize(
    ("nic_selector", "selected"),
    [
        ({"pfNames": ["ens1f1"]}, {PF1}),
        ({"pfNames": ["uplink1"]}, {PF1}),  # an altName
        ({"rootDevices": [PF0]}, {PF0}),
        ({"vendor": "8086"}, {PF0, PF1}),
        ({"vendor": "8086", "deviceID": "1593"}, set()),
        ({"vendor": "15b3"}, set()),
        ({"deviceID": "158b", "pfNames": ["ens1f0"]}, {PF0}),
    ],
)
def test_nic_selector(nic_selector: dict[str, Any], selected: set[str]) -> None:
    pfs = [pf("ens1f0", PF0), pf("ens1f1", PF1, altNames=["uplink1"])]
    result = render([*worker(interfaces=pfs), policy("p", nicSelector=nic_selector)])
    assert set(interfaces(result)) == selected


def test_vf_range_given_with_an_alt_name_is_honoured() -> None:
    pfs = [pf("ens1f0", PF0, altNames=["enp59s0f0np0"])]
    result = render([*worker(interfaces=pfs), policy("p", nicSelector={"pfNames": ["enp59s0f0np0#2-5"]})])
    assert groups(result, PF0) == [("p", "2-5")]
    assert interfaces(result)[PF0]["name"] == "ens1f0"


def test_node_selector_needs_every_label() -> None:
    result = render(
        [*worker("w1"), *worker("w2", rack="r2"), policy("p", node_selector={"sriov": "true", "rack": "r2"})]
    )
    assert result.node_states["w1"] == {}
    assert groups(result, PF0, "w2") == [("p", "0-7")]


def test_policy_fields_reach_the_interface_and_group() -> None:
    mellanox = [pf("ens1f0", PF0, vendor="15b3", device="101d")]
    result = render(
        [
            *worker(interfaces=mellanox),
            policy(
                "p",
                numVfs=4,
                mtu=9000,
                linkType="eth",
                eSwitchMode="switchdev",
                vdpaType="virtio",
                nicSelector={"vendor": "15b3", "pfNames": ["ens1f0"]},
            ),
        ]
    )
    assert interfaces(result)[PF0] == {
        "pciAddress": PF0,
        "numVfs": 4,
        "mtu": 9000,
        "name": "ens1f0",
        "linkType": "eth",
        "eSwitchMode": "switchdev",
        "vfGroups": [
            {
                "resourceName": "p",
                "deviceType": "netdevice",
                "vfRange": "0-3",
                "policyName": "p",
                "mtu": 9000,
                "vdpaType": "virtio",
            }
        ],
    }


def test_externally_managed_is_carried() -> None:
    pfs = [pf("ens1f0", PF0, numVfs=8)]
    result = render([*worker(interfaces=pfs), policy("p", numVfs=8, externallyManaged=True)])
    assert interfaces(result)[PF0]["externallyManaged"] is True


def test_policy_named_default_is_ignored() -> None:
    result = render([*worker(), policy("default", nicSelector={"vendor": "8086"})])
    assert result.node_states["w1"] == {}


def test_nodes_outside_config_daemon_selector_are_not_managed() -> None:
    plain = node("plain")
    plain["metadata"]["labels"] = {"sriov": "true"}  # no worker role
    result = render([plain, state("plain"), *worker("w1"), policy("p")])
    assert set(result.node_states) == {"w1"}


def test_config_daemon_node_selector_from_operator_config() -> None:
    config = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {"configDaemonNodeSelector": {"rack": "r1"}},
    }
    result = render([config, *worker("w1", rack="r1"), *worker("w2"), policy("p")])
    assert set(result.node_states) == {"w1"}


def _pool(name: str, mode: str, selector: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkPoolConfig",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"rdmaMode": mode, "nodeSelector": selector},
    }


def test_pool_rdma_mode_reaches_its_nodes_only() -> None:
    pool = _pool(
        "rdma", "exclusive", {"matchExpressions": [{"key": "rack", "operator": "In", "values": ["r1"]}]}
    )
    result = render([pool, *worker("w1", rack="r1"), *worker("w2")])
    assert result.node_states["w1"] == {"system": {"rdmaMode": "exclusive"}}
    assert result.node_states["w2"] == {}


def _expression(operator: str, *values: str) -> dict[str, Any]:
    requirement: dict[str, Any] = {"key": "rack", "operator": operator}
    if values:
        requirement["values"] = list(values)
    return {"matchExpressions": [requirement]}


@pytest.mark.parametrize(
    ("selector", "in_pool"),
    [
        pytest.param({"matchLabels": {"rack": "r1"}}, {"w1"}, id="matchLabels"),
        pytest.param({"matchLabels": {"rack": "r1", "zone": "z"}}, set(), id="matchLabels-one-pair-missing"),
        pytest.param(_expression("In", "r3", "r1"), {"w1"}, id="In"),
        pytest.param(_expression("NotIn", "r1"), {"w2", "w3"}, id="NotIn-includes-unlabelled"),
        pytest.param(_expression("Exists"), {"w1", "w2"}, id="Exists"),
        pytest.param(_expression("DoesNotExist"), {"w3"}, id="DoesNotExist"),
        pytest.param({}, {"w1", "w2", "w3"}, id="empty-selects-all"),
        pytest.param(None, {"w1", "w2", "w3"}, id="missing-selects-all-as-upstream"),
    ],
)
def test_pool_node_selector(selector: dict[str, Any] | None, in_pool: set[str]) -> None:
    pool = _pool("p", "exclusive", {})
    pool["spec"]["nodeSelector"] = selector
    result = render([pool, *worker("w1", rack="r1"), *worker("w2", rack="r2"), *worker("w3")])
    assert {name for name, spec in result.node_states.items() if spec.get("system")} == in_pool


def test_hardware_offload_pool_selects_no_node() -> None:
    """It names an OpenShift MachineConfigPool; upstream leaves it out when looking for a node's pool."""
    offload = _pool("offload", "shared", {})
    del offload["spec"]["nodeSelector"]
    offload["spec"]["ovsHardwareOffloadConfig"] = {"name": "mcp-offloading"}
    result = render([offload, _pool("rdma", "exclusive", {}), *worker("w1")])
    assert result.node_states["w1"] == {"system": {"rdmaMode": "exclusive"}}
    assert messages(result) == []


def test_node_in_two_pools_is_an_error_and_gets_no_rdma_mode() -> None:
    result = render(
        [
            _pool("a", "shared", {"matchLabels": {"rack": "r1"}}),
            _pool("b", "exclusive", {}),
            *worker("w1", rack="r1"),
        ]
    )
    assert result.node_states["w1"] == {}
    assert any("one pool only" in m and "SriovNetworkPoolConfig" in m for m in messages(result))


def test_node_without_status_renders_empty_with_a_warning() -> None:
    result = render([node("w1"), policy("p")])
    assert result.node_states["w1"] == {}
    assert any("not discovered yet" in m for m in messages(result, "warning"))


def test_objects_outside_the_operator_namespace_have_no_effect() -> None:
    other = policy("p")
    other["metadata"]["namespace"] = "elsewhere"
    result = render([*worker(), other])
    assert result.node_states["w1"] == {}
    assert any("no effect" in m and "--namespace elsewhere" in m for m in messages(result, "warning"))


def test_operator_namespace_is_inferred_from_node_states() -> None:
    docs = [*worker(), policy("p")]
    for doc in docs:
        if "namespace" in doc["metadata"]:
            doc["metadata"]["namespace"] = "openshift-sriov-network-operator"
    assert groups(render(docs), PF0) == [("p", "0-7")]
    assert output(docs, namespace="somewhere-else")["nodeStates"] == {"w1": {}}


def test_need_vhost_net_reaches_the_vf_group_so_the_daemon_loads_the_modules() -> None:
    vhost_only = render([policy("vhost", numVfs=2, needVhostNet=True), *worker()])
    assert interfaces(vhost_only)[PF0]["vfGroups"][0]["needVhostNet"] is True
    plain = render([policy("plain", numVfs=2), *worker()])
    assert not interfaces(plain)[PF0]["vfGroups"][0].get("needVhostNet")
