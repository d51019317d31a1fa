"""The operator's incremental view of the engine inputs: same answers as a full render, fewer re-renders."""

from __future__ import annotations

from typing import Any

from sriov_operator.api.refs import ObjectRef
from sriov_operator.operator.cluster_cache import ClusterCache
from tests.unit.engine.builders import NS, node, pf, policy, render, state, worker


def _cache(bodies: list[dict[str, Any]]) -> ClusterCache:
    cache = ClusterCache(NS, "openshift.io")
    for body in bodies:
        setter = {
            "Node": cache.set_node,
            "SriovNetworkNodeState": cache.set_node_state,
            "SriovNetworkNodePolicy": cache.set_policy,
        }[body["kind"]]
        setter(body)
    return cache


def _rendered(cache: ClusterCache, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rendered = cache.render(name)
    assert rendered is not None
    return rendered.spec, rendered.resources


def test_incremental_answers_equal_a_full_render() -> None:
    bodies = [*worker("a1", rack="a"), *worker("b1", rack="b"), policy("p", node_selector={"rack": "a"})]
    cache, full = _cache(bodies), render(bodies)
    for name in ("a1", "b1"):
        spec, resources = _rendered(cache, name)
        assert spec == full.node_states[name]
        assert resources == full.device_plugin[name]["resourceList"]
    assert full.node_states["a1"]["interfaces"][0]["numVfs"] == 8


def test_policy_change_names_only_the_nodes_it_selects_or_selected() -> None:
    cache = _cache([*worker("a1", rack="a"), *worker("b1", rack="b"), *worker("c1", rack="c")])
    assert cache.set_policy(policy("p", node_selector={"rack": "a"})) == {"a1"}
    assert cache.set_policy(policy("p", node_selector={"rack": "b"})) == {"a1", "b1"}
    assert cache.remove_policy("p") == {"b1"}


def test_status_only_changes_re_render_nothing() -> None:
    cache = _cache([*worker("a1"), policy("p")])
    with_status = policy("p")
    with_status["status"] = {"matchedNodes": 1}
    assert cache.set_policy(with_status) == frozenset()
    synced = state("a1", syncStatus="Succeeded")
    assert cache.set_node_state(synced) is False
    labelled = node("a1")
    assert cache.set_node(labelled) is False
    changed = state("a1", [pf("ens1f0", "0000:3b:00.0", mtu=9000)])
    assert cache.set_node_state(changed) is True


def test_vf_lists_are_not_engine_inputs() -> None:
    cache = _cache([*worker("a1"), policy("p")])
    with_vfs = state(
        "a1",
        [
            {**pf("ens1f0", "0000:3b:00.0"), "Vfs": [{"pciAddress": "0000:3b:02.0", "vfID": 0}]},
            pf("ens1f1", "0000:3b:00.1"),
        ],
    )
    assert cache.set_node_state(with_vfs) is False


def test_unmanaged_node_renders_nothing_and_label_change_manages_it() -> None:
    outsider = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "x", "labels": {"sriov": "true"}}}
    cache = _cache([outsider, state("x"), policy("p")])
    assert cache.render("x") is None
    assert cache.set_node(node("x")) is True
    assert _rendered(cache, "x")[0]["interfaces"][0]["numVfs"] == 8


def test_invalid_policy_is_reported_and_selects_nothing() -> None:
    cache = _cache([*worker("a1")])
    bad = policy("bad", numVfs=-1)
    assert cache.set_policy(bad) == frozenset()
    assert "bad" not in cache.index()
    problems = cache.problems_of(ObjectRef(kind="SriovNetworkNodePolicy", namespace=NS, name="bad"))
    assert [p.field for p in problems] == ["spec.numVfs"]


def test_operator_config_selector_changes_the_managed_set() -> None:
    cache = _cache([*worker("a1"), *worker("b1", pool="x")])
    assert cache.managed_nodes() == {"a1", "b1"}
    config = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {"configDaemonNodeSelector": {"pool": "x"}},
    }
    assert cache.set_operator_config(config) is True
    assert cache.managed_nodes() == {"b1"}
    assert cache.set_operator_config(config) is False
    assert cache.set_operator_config(None) is True
    assert cache.managed_nodes() == {"a1", "b1"}


def test_the_operators_own_label_is_not_an_input() -> None:
    cache = _cache([*worker("a1"), policy("p")])
    cache.render("a1")
    labelled = node("a1", {"sriovnetwork.openshift.io/device-plugin": "Enabled"})
    assert cache.set_node(labelled) is False


def test_policies_selecting_a_node_without_a_rebuild() -> None:
    cache = _cache([*worker("a1", rack="a"), *worker("b1", rack="b")])
    cache.set_policy(policy("pa", node_selector={"rack": "a"}))
    cache.set_policy(policy("all", node_selector={}))
    cache.set_node(node("c1", {"rack": "a"}))  # invalidates the preparation
    assert sorted(cache.policies_selecting("c1")) == ["all", "pa"]
    assert cache.policies_selecting("b1") == ["all"]
    assert cache.policies_selecting("gone") == []


def test_a_node_state_failing_the_schema_is_called_invalid_not_missing() -> None:
    broken = state("a1", [pf("ens1f0", "0000:3b:00.0", mtu="big")])
    cache = _cache([node("a1"), broken, policy("p")])
    rendered = cache.render("a1")
    assert rendered is not None
    [message] = [p.message for p in rendered.problems]
    assert message.startswith("not discovered yet (its SriovNetworkNodeState is invalid, see its errors)")
    assert cache.set_node_state(state("a1")) is True
    rendered = cache.render("a1")
    assert rendered is not None and rendered.problems == []
