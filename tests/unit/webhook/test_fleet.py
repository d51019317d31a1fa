"""Policy reviews by class of alike nodes: the same answer as node by node, one render per class."""

from __future__ import annotations

from typing import Any

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot, validate_object
from sriov_operator.webhook.fleet import FleetIndex, label_selector_keys, map_keys
from sriov_operator.webhook.parsed import ParsedObjects

NS = "sriov-network-operator"
WORKER = {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux", "sriov": "true"}


def _node(name: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {**WORKER, "kubernetes.io/hostname": name, **labels},
        }
    }


def _state(name: str, totalvfs: int = 64, address: str = "0000:3b:00.0") -> dict[str, Any]:
    pf = {
        "name": "ens1f0",
        "pciAddress": address,
        "vendor": "8086",
        "deviceID": "158b",
        "totalvfs": totalvfs,
        "numVfs": 0,
        "mtu": 1500,
        "linkType": "ETH",
        "mac": f"02:00:00:00:00:{len(name):02x}",  # differs per node; no rule reads it
    }
    return {
        "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"},
        "status": {"interfaces": [pf]},
    }


def _policy(num_vfs: int, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "p", "namespace": NS},
        "spec": {
            "resourceName": "p",
            "nodeSelector": selector or {"sriov": "true"},
            "numVfs": num_vfs,
            "nicSelector": {"pfNames": ["ens1f0"]},
        },
    }


def _verdicts(
    nodes: list[dict[str, Any]], states: list[dict[str, Any]], body: dict[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...], FleetIndex]:
    settings = AdmissionSettings(NS)
    plain = validate_object(body, None, ClusterSnapshot(nodes=nodes, node_states=states), settings)
    parsed = ParsedObjects()
    fleet = FleetIndex.of(nodes, states, parsed, NS)
    snapshot = ClusterSnapshot(nodes=nodes, node_states=states, parsed=parsed, fleet=fleet)
    return plain.errors, validate_object(body, None, snapshot, settings).errors, fleet


def test_a_problem_on_many_alike_nodes_names_them_all_from_one_render() -> None:
    names = [f"w{i}" for i in range(7)]
    nodes = [_node(n) for n in names]
    states = [_state(n) for n in names]
    plain, by_class, fleet = _verdicts(nodes, states, _policy(128))
    assert by_class == plain
    assert "(on 7 node(s): w0, w1, w2, w3, w4 and 2 more)" in by_class[0]
    assert len(fleet.classes(["sriov"])) == 1  # hostnames and MACs differ: no selector or rule reads them


def test_nodes_differing_in_what_the_rules_read_are_classes_of_their_own() -> None:
    nodes = [_node("small"), _node("big"), _node("moved"), _node("racked", rack="r1")]
    states = [_state("small"), _state("big", 256), _state("moved", address="0000:af:00.0"), _state("racked")]
    plain, by_class, fleet = _verdicts(nodes, states, _policy(128))
    assert by_class == plain
    assert by_class[0].endswith("PF ens1f0 (0000:3b:00.0); accepted: 1..64 (on 2 node(s): racked, small)")
    assert by_class[1].endswith("PF ens1f0 (0000:af:00.0); accepted: 1..64 (on 1 node(s): moved)")
    assert len(fleet.classes(["sriov"])) == 3
    assert len(fleet.classes(["sriov", "rack"])) == 4
    _, rack_only, _ = _verdicts(nodes, states, _policy(128, {"rack": "r1"}))
    assert "(on 1 node(s): racked)" in rack_only[0]


def test_classes_follow_changes_to_nodes_and_states() -> None:
    parsed = ParsedObjects()
    fleet = FleetIndex.of([_node("a"), _node("b")], [_state("a"), _state("b")], parsed, NS)
    assert [sorted(c.members) for c in fleet.classes(["sriov"])] == [["a", "b"]]
    changed = _state("b", 256)
    changed["metadata"]["resourceVersion"] = "2"
    fleet.set_state(changed)
    assert sorted(c.members for c in fleet.classes(["sriov"])) == [("a",), ("b",)]
    fleet.drop_node("a")
    assert [c.members for c in fleet.classes(["sriov"])] == [("b",)]
    relabelled = _node("b", sriov="false")
    relabelled["metadata"]["resourceVersion"] = "3"
    fleet.set_node(relabelled)
    [only] = fleet.classes(["sriov"])
    assert only.labels["sriov"] == "false"


def test_selector_keys() -> None:
    assert map_keys({"a": "1", "matchLabels": "x"}) == {"a", "matchLabels"}
    assert label_selector_keys(
        {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}, "junk"]}
    ) == {"a", "b"}
    assert map_keys(None) == label_selector_keys([]) == set()


def test_nodes_alike_up_to_their_addresses_share_a_class_for_a_first_pass() -> None:
    names = [f"w{i}" for i in range(6)]
    nodes = [_node(n) for n in names]
    states = [_state(n, address=f"0000:{i + 16:02x}:00.0") for i, n in enumerate(names)]
    plain, by_class, fleet = _verdicts(nodes, states, _policy(8))
    assert by_class == plain == ()
    assert len(fleet.classes(["sriov"], exact=False)) == 1
    assert len(fleet.classes(["sriov"], exact=True)) == 6
    plain, by_class, _ = _verdicts(nodes, states, _policy(128))  # each node's address in its message
    assert by_class == plain
    assert len(by_class) == 6


def test_a_policy_naming_addresses_is_reviewed_with_exact_classes() -> None:
    nodes = [_node("a"), _node("b")]
    states = [_state("a", address="0000:3b:00.0"), _state("b", address="0000:af:00.0")]
    pinned = _policy(128)
    pinned["spec"]["nicSelector"] = {"rootDevices": ["0000:af:00.0"]}
    plain, by_class, _ = _verdicts(nodes, states, pinned)
    assert by_class == plain
    assert len(by_class) == 1 and "0000:af:00.0" in by_class[0]
