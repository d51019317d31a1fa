"""Pool membership and budgets: maxUnavailable as int or %, the default pool, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkPoolConfig
from sriov_operator.operator.drain.pools import (
    DEFAULT_POOL,
    PoolIndex,
    max_unavailable_count,
    membership,
)


def pool(name: str, selector: dict[str, str] | None, max_unavailable: Any = None) -> SriovNetworkPoolConfig:
    spec: dict[str, Any] = {}
    if selector is not None:
        spec["nodeSelector"] = {"matchLabels": selector}
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return SriovNetworkPoolConfig.model_validate(
        {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}
    )


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        (None, 10, None),  # unset: no limit
        (0, 10, 0),  # 0 blocks every drain
        (3, 10, 3),
        (3, 2, 3),  # an integer is not capped by the pool size
        ("50%", 4, 2),
        ("50%", 5, 2),  # rounded down
        ("50%", 1, 0),  # a small pool can round to 0
        ("100%", 7, 7),
        ("1%", 99, 0),
        ("1%", 100, 1),
    ],
)
def test_max_unavailable_resolves_int_and_percentage_rounding_down(
    value: Any, size: int, expected: int | None
) -> None:
    assert max_unavailable_count(value, size) == expected


def test_node_in_no_pool_is_in_the_default_pool_and_a_node_in_two_pools_is_a_conflict() -> None:
    pools = [pool("a", {"rack": "1"}), pool("b", {"zone": "x"})]
    assert membership(pools, {"rack": "1"}).pool == "a"
    assert membership(pools, {"rack": "2"}).pool == DEFAULT_POOL
    both = membership(pools, {"rack": "1", "zone": "x"})
    assert both.pool is None
    assert both.conflicting == ("a", "b")


def test_pool_without_selector_selects_every_node_as_upstream() -> None:
    assert membership([pool("a", None)], {"rack": "1"}).pool == "a"


LABELS = {
    "a1": {"pool": "a"},
    "a2": {"pool": "a"},
    "a3": {"pool": "a"},
    "a4": {"pool": "a"},
    "d1": {},
    "d2": {},
}


@pytest.mark.parametrize(
    ("node", "pool_name", "max_unavailable", "current", "allowed", "busy"),
    [
        ("a1", "a", "50%", {}, True, ()),
        ("a1", "a", "50%", {"a2": "Draining"}, True, ("a2",)),
        ("a1", "a", "50%", {"a2": "Draining", "a3": "DrainComplete"}, False, ("a2", "a3")),
        # Idle nodes and nodes of other pools do not take a slot
        ("a1", "a", 1, {"a2": "Idle", "d1": "Draining"}, True, ()),
        ("a1", "a", 1, {"a2": "Draining"}, False, ("a2",)),
        # the node's own state never counts against itself
        ("a1", "a", 1, {"a1": "Draining"}, True, ()),
        ("a1", "a", 0, {}, False, ()),
        ("a1", "a", None, {"a2": "Draining", "a3": "Draining", "a4": "Draining"}, True, ("a2", "a3", "a4")),
        # default pool: one at a time
        ("d1", DEFAULT_POOL, None, {}, True, ()),
        ("d1", DEFAULT_POOL, None, {"d2": "DrainComplete"}, False, ("d2",)),
    ],
)
def test_admission_counts_drained_members_of_the_same_pool(
    node: str,
    pool_name: str,
    max_unavailable: Any,
    current: dict[str, str],
    allowed: bool,
    busy: tuple[str, ...],
) -> None:
    index = PoolIndex([pool("a", {"pool": "a"}, max_unavailable)], LABELS)
    admission = index.admit(node, pool_name, lambda name: current.get(name, "Idle"))
    assert (admission.allowed, admission.busy) == (allowed, busy)


def test_admission_explains_a_zero_budget_and_a_full_pool() -> None:
    index = PoolIndex([pool("a", {"pool": "a"}, "10%")], LABELS)
    zero = index.admit("a1", "a", lambda _: "Idle")
    assert not zero.allowed
    assert "maxUnavailable resolves to 0 of 4" in zero.explain()
    full = index.admit("d1", DEFAULT_POOL, {"d2": "Draining"}.get)
    assert "(default pool) is at its limit of 1 drained nodes (d2)" in full.explain()


def test_index_agrees_with_selector_matching_node_by_node() -> None:
    pools = [
        pool("rack1", {"rack": "1"}),
        SriovNetworkPoolConfig.model_validate(
            {
                "metadata": {"name": "fast", "namespace": "ns"},
                "spec": {
                    "nodeSelector": {
                        "matchExpressions": [{"key": "nic", "operator": "In", "values": ["e810"]}]
                    }
                },
            }
        ),
    ]
    labels = {
        "n1": {"rack": "1", "host": "n1"},
        "n2": {"rack": "1", "nic": "e810", "host": "n2"},
        "n3": {"nic": "e810", "host": "n3"},
        "n4": {"host": "n4"},
        "n5": {"rack": "2", "nic": "cx6", "host": "n5"},
    }
    index = PoolIndex(pools, labels)
    for node, node_labels in labels.items():
        assert index.membership(node_labels) == membership(pools, node_labels), node
    assert (index.members("rack1"), index.members("fast"), index.members(DEFAULT_POOL)) == (
        ["n1"],
        ["n3"],
        ["n4", "n5"],
    )


@pytest.mark.parametrize(
    ("max_unavailable", "current", "free"),
    [
        (None, {}, None),
        (2, {}, 2),
        (2, {"a1": "Draining"}, 1),
        (1, {"a1": "DrainComplete", "a2": "Draining"}, 0),
    ],
)
def test_free_slots(max_unavailable: Any, current: dict[str, str], free: int | None) -> None:
    index = PoolIndex([pool("a", {"pool": "a"}, max_unavailable)], LABELS)
    assert index.free_slots("a", lambda name: current.get(name, "Idle")) == free
