"""Pool membership and budgets: maxUnavailable as int or %, the default pool, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.models import SriovNetworkPoolConfig
from sriov_operator.operator.drain.pools import (
    DEFAULT_POOL,
    admit,
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


def test_pool_without_selector_selects_nothing() -> None:
    assert membership([pool("a", None)], {"rack": "1"}).pool == DEFAULT_POOL


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
    pools = [pool("a", {"pool": "a"}, max_unavailable)]
    admission = admit(node, pool_name, pools, LABELS, current)
    assert (admission.allowed, admission.busy) == (allowed, busy)


def test_admission_explains_a_zero_budget_and_a_full_pool() -> None:
    pools = [pool("a", {"pool": "a"}, "10%")]
    zero = admit("a1", "a", pools, LABELS, {})
    assert not zero.allowed
    assert "maxUnavailable resolves to 0 of 4" in zero.explain()
    full = admit("d1", DEFAULT_POOL, pools, LABELS, {"d2": "Draining"})
    assert "(default pool) is at its limit of 1 drained nodes (d2)" in full.explain()
