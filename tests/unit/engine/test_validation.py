"""Mutating defaults and every validation rule (static, against nodes, between policies, other kinds)."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.engine.mutation import apply_policy_defaults, policy_default_patches
from sriov_operator.engine.object_validation import validate_operator_config_update
from tests.unit.engine.builders import NS, groups, messages, pf, policy, render, worker

PF0 = "0000:3b:00.0"
MLX = [pf("ens1f0", PF0, vendor="15b3", device="101d", totalvfs=255)]


@pytest.mark.parametrize(
    ("spec", "patches"),
    [
        (
            {},
            [
                {"op": "add", "path": "/spec/priority", "value": 99},
                {"op": "add", "path": "/spec/isRdma", "value": False},
            ],
        ),
        (
            {"priority": 0, "isRdma": False, "linkType": "IB"},
            [{"op": "replace", "path": "/spec/isRdma", "value": True}],
        ),
        (
            {"priority": 5, "linkType": "ib", "deviceType": "vfio-pci"},
            [{"op": "add", "path": "/spec/isRdma", "value": False}],
        ),
    ],
)
def test_mutation_patches(spec: dict[str, Any], patches: list[dict[str, Any]]) -> None:
    body = {"metadata": {"name": "p"}, "spec": spec}
    assert policy_default_patches(body) == patches
    assert apply_policy_defaults(body)["spec"] == {**spec, **{p["path"][6:]: p["value"] for p in patches}}


def test_mutation_skips_the_default_policy() -> None:
    assert policy_default_patches({"metadata": {"name": "default"}, "spec": {}}) == []


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"resourceName": "bad name"}, "spec.resourceName", "pattern"),
        ({"resourceName": "x" * 64}, "spec.resourceName", "at most 63"),
        ({"priority": 100}, "spec.priority", "less than or equal to 99"),
        ({"deviceType": "dpdk"}, "spec.deviceType", "'netdevice' or 'vfio-pci'"),
        ({"nicSelector": {}}, "spec.nicSelector", "at least one of vendor"),
        (
            {"nicSelector": {"netFilter": "openstack/NetworkID:x", "vendor": "8086"}},
            "spec.nicSelector",
            "cannot be combined with vendor",
        ),
        (
            {"nicSelector": {"netFilter": "openstack/NetworkID:x"}, "eSwitchMode": "switchdev"},
            "spec.eSwitchMode",
            "must be empty with netFilter",
        ),
        (
            {"nicSelector": {"netFilter": "openstack/NetworkID:x"}, "linkType": "ib"},
            "spec.linkType",
            "accepted: empty or 'eth'",
        ),
        ({"nicSelector": {"netFilter": "nonsense"}}, "spec.nicSelector.netFilter", "is not '<key>:<value>'"),
        ({"nicSelector": {"pfNames": ["ens1f0#1#2"]}}, "spec.nicSelector.pfNames[0]", "more than one '#'"),
        ({"nicSelector": {"pfNames": ["ens1f0#a-b"]}}, "spec.nicSelector.pfNames[0]", "integers"),
        ({"nicSelector": {"pfNames": ["ens1f0#5-2"]}}, "spec.nicSelector.pfNames[0]", "first <= last"),
        (
            {"nicSelector": {"pfNames": ["ens1f0#0-8"]}},
            "spec.nicSelector.pfNames[0]",
            "accepted: VF indexes 0..7",
        ),
        ({"deviceType": "vfio-pci", "isRdma": True}, "spec.isRdma", "not allowed with deviceType 'vfio-pci'"),
        (
            {"eSwitchMode": "switchdev", "linkType": "ib", "deviceType": "vfio-pci"},
            "spec.linkType",
            "eSwitchMode 'switchdev'",
        ),
        ({"vdpaType": "virtio"}, "spec.vdpaType", "needs deviceType 'netdevice' and eSwitchMode 'switchdev'"),
        ({"bridge": {"ovs": {}}}, "spec.bridge", "needs eSwitchMode 'switchdev'"),
        (
            {"bridge": {"ovs": {}}, "eSwitchMode": "switchdev", "externallyManaged": True},
            "spec.bridge",
            "externallyManaged",
        ),
        ({"unknownField": 1}, "spec.unknownField", "extra inputs"),
    ],
)
def test_static_rules_name_field_and_value(spec: dict[str, Any], field: str, words: str) -> None:
    result = render([*worker(), policy("p", **spec)])
    assert any(
        m.startswith(f"SriovNetworkNodePolicy/{NS}/p: {field}: ") and words in m for m in messages(result)
    ), messages(result)
    assert result.node_states["w1"] == {}  # an invalid policy is not applied


def test_unsupported_nic_is_a_warning_unless_strict() -> None:
    docs = [
        *worker(interfaces=[pf("ens1f0", PF0, device="abcd")]),
        policy("p", nicSelector={"vendor": "8086", "deviceID": "abcd"}),
    ]
    lenient = render(docs)
    assert messages(lenient) == []
    assert any("8086:abcd is not in the supported-NIC list" in m for m in messages(lenient, "warning"))
    assert groups(lenient, PF0) == [("p", "0-7")]
    strict = render(docs, strict_nics=True)
    assert any("8086:abcd is not in the supported-NIC list" in m for m in messages(strict))
    assert strict.node_states["w1"] == {}


def test_supported_nic_configmap_extends_the_list() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "supported-nic-ids", "namespace": NS},
        "data": {"Custom": "8086 abcd abce", "Broken": "8086 xyz"},
    }
    result = render(
        [
            configmap,
            *worker(interfaces=[pf("ens1f0", PF0, device="abcd")]),
            policy("p", nicSelector={"vendor": "8086", "deviceID": "abcd"}),
        ],
        strict_nics=True,
    )
    assert groups(result, PF0) == [("p", "0-7")]
    assert result.device_plugin["w1"]["resourceList"][0]["selectors"]["devices"] == ["abce"]
    assert any("data.Broken" in m for m in messages(result))


@pytest.mark.parametrize(
    ("interfaces", "spec", "field", "words"),
    [
        ([pf("ens1f0", PF0, totalvfs=16)], {"numVfs": 32}, "spec.numVfs", "above totalvfs 16"),
        (MLX, {"numVfs": 200, "nicSelector": {"pfNames": ["ens1f0"]}}, "spec.numVfs", "accepted: 1..128"),
        ([pf("ens1f0", PF0)], {"numVfs": 0}, "spec.numVfs", "0 is not allowed"),
        (
            [pf("ens1f0", PF0, numVfs=4)],
            {"numVfs": 8, "externallyManaged": True},
            "spec.numVfs",
            "accepted: 1..4",
        ),
        ([pf("ens1f0", PF0, numVfs=8)], {"mtu": 9000, "externallyManaged": True}, "spec.mtu", "up to 1500"),
        (
            [pf("ens1f0", PF0, numVfs=None)],
            {"numVfs": 1, "externallyManaged": True},
            "spec.numVfs",
            "1 is above the 0 VFs PF ens1f0 (0000:3b:00.0) has now; with externallyManaged the operator "
            "creates no VFs, so accepted: 1..0",
        ),
        (
            [pf("ens1f0", PF0, numVfs=8)],
            {"linkType": "ib", "deviceType": "vfio-pci", "externallyManaged": True},
            "spec.linkType",
            "must match",
        ),
        (
            [pf("ens1f0", PF0)],
            {"vdpaType": "virtio", "eSwitchMode": "switchdev"},
            "spec.vdpaType",
            "only supported on Mellanox",
        ),
    ],
)
def test_rules_against_the_node(
    interfaces: list[dict[str, Any]], spec: dict[str, Any], field: str, words: str
) -> None:
    result = render(
        [*worker(interfaces=interfaces), *worker("w2", [pf("eno1", "0000:01:00.0")]), policy("p", **spec)]
    )
    start = f"SriovNetworkNodePolicy/{NS}/p: {field}: "
    assert any(m.startswith(start) and words in m and "(on 1 node(s): w1)" in m for m in messages(result)), (
        messages(result)
    )
    assert result.node_states["w1"] == {}  # not applied where it is invalid


def test_policy_matching_no_node_is_accepted_with_a_warning() -> None:
    result = render([*worker(), policy("p", node_selector={"gpu": "yes"})])
    assert messages(result) == []
    assert any("matches no node" in m for m in messages(result, "warning"))


@pytest.mark.parametrize(
    ("a", "b", "field"),
    [
        (
            {"nicSelector": {"pfNames": ["ens1f0#0-3"]}},
            {"nicSelector": {"pfNames": ["ens1f0#2-5"]}},
            "spec.nicSelector.pfNames",
        ),
        ({"externallyManaged": True}, {"priority": 10}, "spec.externallyManaged"),
        (
            {"nicSelector": {"rootDevices": [PF0]}},
            {"nicSelector": {"rootDevices": [PF0]}},
            "spec.nicSelector.rootDevices",
        ),
        (
            {"resourceName": "r", "needVhostNet": True},
            {"resourceName": "r", "nicSelector": {"pfNames": ["ens1f1"]}},
            "spec.needVhostNet",
        ),
        (
            {"resourceName": "r", "isRdma": True},
            {"resourceName": "r", "nicSelector": {"pfNames": ["ens1f1"]}},
            "spec.isRdma",
        ),
    ],
)
def test_conflicts_between_policies(a: dict[str, Any], b: dict[str, Any], field: str) -> None:
    interfaces = [pf("ens1f0", PF0, numVfs=8), pf("ens1f1", "0000:3b:00.1", numVfs=8)]
    result = render([*worker(interfaces=interfaces), policy("a", **a), policy("b", **b)])
    found = [m for m in messages(result) if f": {field}: " in m]
    assert {m.split(":")[0] for m in found} == {
        f"SriovNetworkNodePolicy/{NS}/a",
        f"SriovNetworkNodePolicy/{NS}/b",
    }


def test_pool_rules() -> None:
    pool = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkPoolConfig",
        "metadata": {"name": "ovs", "namespace": NS},
        "spec": {"maxUnavailable": 1, "ovsHardwareOffloadConfig": {"name": "x"}},
    }
    bad_percent = {**pool, "metadata": {"name": "pct", "namespace": NS}, "spec": {"maxUnavailable": "101%"}}
    result = render([pool, bad_percent])
    assert any(
        m.startswith(f"SriovNetworkPoolConfig/{NS}/ovs: spec.maxUnavailable:") for m in messages(result)
    )
    assert any(
        m.startswith(f"SriovNetworkPoolConfig/{NS}/pct: spec.maxUnavailable: got '101%'")
        for m in messages(result)
    )


def test_operator_config_must_be_named_default() -> None:
    config = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "mine", "namespace": NS},
    }
    assert any("named 'default'" in m for m in messages(render([config])))


def test_disable_drain_rejected_while_a_node_is_in_progress() -> None:
    old = SriovOperatorConfig.model_validate({"metadata": {"name": "default", "namespace": NS}})
    new = SriovOperatorConfig.model_validate(
        {"metadata": {"name": "default", "namespace": NS}, "spec": {"disableDrain": True}}
    )
    assert validate_operator_config_update(old, new, {"w1": "Succeeded"}) == []
    problems = validate_operator_config_update(old, new, {"w1": "InProgress", "w2": "Succeeded"})
    assert [p.field for p in problems] == ["spec.disableDrain"] and "w1" in problems[0].message
    assert validate_operator_config_update(new, new, {"w1": "InProgress"}) == []


def test_duplicate_objects_are_errors() -> None:
    result = render([*worker(), policy("p"), policy("p", numVfs=4)])
    assert any("defined 2 times" in m for m in messages(result))


def test_every_overlapping_pair_on_a_pf_is_reported_when_three_policies_share_it() -> None:
    result = render(
        [
            *worker(),
            policy("a", numVfs=8, nicSelector={"pfNames": ["ens1f0#0-3"]}),
            policy("b", numVfs=8, nicSelector={"pfNames": ["ens1f0#2-5"]}),
            policy("c", numVfs=8, nicSelector={"pfNames": ["ens1f0#4-7"]}),
        ]
    )
    overlaps = [m for m in messages(result) if "overlaps" in m]
    assert any("range 0-3" in m and "range 2-5 of policy 'b'" in m for m in overlaps), overlaps
    assert any("range 4-7" in m and "range 2-5 of policy 'b'" in m for m in overlaps), overlaps
    assert not any("policy 'a'" in m and "4-7" in m for m in overlaps), "a and c do not overlap"
