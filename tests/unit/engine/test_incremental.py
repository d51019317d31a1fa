"""Re-rendering only the nodes a changed policy selects or selected."""

from __future__ import annotations

from sriov_operator.engine.inputs import ClusterObjects, read_documents
from sriov_operator.engine.render import (
    Prepared,
    nodes_affected_by_policy_change,
    policy_index,
    prepare,
    render_cluster,
    render_nodes,
)
from tests.unit.engine.builders import documents, policy, worker


def _prepared(policy_rack: str) -> tuple[ClusterObjects, Prepared]:
    docs = [
        *worker("a1", rack="a"),
        *worker("a2", rack="a"),
        *worker("b1", rack="b"),
        *worker("c1", rack="c"),
    ]
    docs += [
        policy("moving", node_selector={"rack": policy_rack}),
        policy("everywhere", nicSelector={"pfNames": ["ens1f1"]}),
    ]
    cluster, _ = read_documents(documents(docs))
    return cluster, prepare(cluster, resource_prefix="openshift.io")


def test_index_and_affected_nodes() -> None:
    _, before = _prepared("a")
    index = policy_index(before)
    assert index["moving"] == {"a1", "a2"}
    assert index["everywhere"] == {"a1", "a2", "b1", "c1"}
    cluster_after, after = _prepared("b")
    affected = nodes_affected_by_policy_change(index, after, "moving")
    assert affected == {"a1", "a2", "b1"}
    partial = render_nodes(after, affected)
    full = render_cluster(cluster_after, resource_prefix="openshift.io")
    assert set(partial.node_states) == affected
    for name in affected:
        assert partial.node_states[name] == full.node_states[name]
        assert partial.device_plugin[name] == full.device_plugin[name]
    assert (
        full.node_states["c1"]
        == render_cluster(_prepared("a")[0], resource_prefix="openshift.io").node_states["c1"]
    )


def test_deleted_policy_re_renders_the_nodes_it_selected() -> None:
    _, before = _prepared("a")
    index = policy_index(before)
    cluster, _ = _prepared("a")
    cluster.policies = [p for p in cluster.policies if p.name != "moving"]
    after = prepare(cluster, resource_prefix="openshift.io")
    assert nodes_affected_by_policy_change(index, after, "moving") == {"a1", "a2"}
    assert all("moving" not in str(s) for s in render_nodes(after, {"a1", "a2"}).node_states.values())
