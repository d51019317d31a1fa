"""Drain pools: which pool a node belongs to and whether it may start draining now.

A SriovNetworkPoolConfig selects nodes by label and caps how many of them may be
drained (Draining or DrainComplete) at once with ``maxUnavailable``. Nodes in no
pool form the default pool, which drains one node at a time. A node selected by
two pools is a configuration error: it never drains until the pools are fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriov_operator.api.constants import DRAIN_COMPLETE, DRAINING
from sriov_operator.api.models import SriovNetworkPoolConfig
from sriov_operator.engine.selection import pools_of_node

DEFAULT_POOL = ""
"""Name of the implicit pool of nodes no SriovNetworkPoolConfig selects."""
DEFAULT_POOL_MAX_UNAVAILABLE = 1
DRAINED_STATES = frozenset({DRAINING, DRAIN_COMPLETE})


def pool_display_name(pool: str) -> str:
    return pool or "(default pool)"


def max_unavailable_count(value: int | str | None, pool_size: int) -> int | None:
    """How many of ``pool_size`` nodes may be drained at once; None means no limit.

    An integer is taken as is; ``"N%"`` is N percent of the pool, rounded down
    (so a small pool can round to 0, which blocks drains: the condition says so).
    """
    if value is None:
        return None
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    return pool_size * percent // 100


@dataclass(frozen=True)
class PoolMembership:
    """The pool of one node: its name, or every pool that claims it when there are several."""

    pool: str | None
    conflicting: tuple[str, ...] = ()


def membership(pools: Iterable[SriovNetworkPoolConfig], labels: Mapping[str, str]) -> PoolMembership:
    names = pools_of_node(pools, labels)
    if len(names) > 1:
        return PoolMembership(pool=None, conflicting=tuple(names))
    return PoolMembership(pool=names[0] if names else DEFAULT_POOL)


@dataclass(frozen=True)
class Admission:
    """Whether a node may start draining, and why not."""

    allowed: bool
    pool: str
    limit: int | None
    busy: tuple[str, ...]
    """Other nodes of the pool that are Draining or DrainComplete."""
    pool_size: int

    def explain(self) -> str:
        name = pool_display_name(self.pool)
        if self.allowed:
            limit = "no limit" if self.limit is None else f"limit {self.limit}"
            return f"pool {name}: {len(self.busy)} of {self.pool_size} nodes drained ({limit})"
        if self.limit == 0:
            return f"pool {name} allows no node to drain (maxUnavailable resolves to 0 of {self.pool_size})"
        return (
            f"pool {name} is at its limit of {self.limit} drained nodes "
            f"({', '.join(self.busy)}); waiting for one to finish"
        )


def selector_keys(pool: SriovNetworkPoolConfig) -> set[str]:
    """The label keys a pool's selector reads."""
    selector = pool.spec.node_selector
    if selector is None:
        return set()
    return set(selector.match_labels or {}) | {r.key for r in selector.match_expressions or []}


class PoolIndex:
    """Which pool every managed node is in, for one snapshot of pools and node labels.

    Selectors are evaluated once per distinct combination of the labels they read
    (nodes mostly differ only in labels no pool looks at, like their hostname), so
    indexing thousands of nodes costs a few selector evaluations and one dict pass.
    """

    def __init__(
        self, pools: Sequence[SriovNetworkPoolConfig], labels_by_node: Mapping[str, Mapping[str, str]]
    ):
        self._pools = list(pools)
        self._by_name = {p.name: p for p in self._pools}
        self._keys = sorted(set().union(*(selector_keys(p) for p in self._pools)))
        self._memo: dict[tuple[str | None, ...], PoolMembership] = {}
        self._of: dict[str, PoolMembership] = {}
        self._members: dict[str, list[str]] = {}
        for node, labels in labels_by_node.items():
            found = self.membership(labels)
            self._of[node] = found
            if found.pool is not None:
                self._members.setdefault(found.pool, []).append(node)

    def membership(self, labels: Mapping[str, str]) -> PoolMembership:
        relevant = tuple(labels.get(key) for key in self._keys)
        found = self._memo.get(relevant)
        if found is None:
            projected = {
                key: value for key, value in zip(self._keys, relevant, strict=True) if value is not None
            }
            found = self._memo[relevant] = membership(self._pools, projected)
        return found

    def members(self, pool: str) -> list[str]:
        return list(self._members.get(pool, []))

    def limit(self, pool: str, pool_size: int) -> int | None:
        config = self._by_name.get(pool)
        if config is None:
            return DEFAULT_POOL_MAX_UNAVAILABLE
        return max_unavailable_count(config.spec.max_unavailable, pool_size)

    def admit(self, node: str, pool: str, current_of: Callable[[str], str]) -> Admission:
        """May ``node`` (a member of ``pool``) start draining, given each member's current state?

        Pool sizes count the managed nodes; members of other pools, and nodes claimed by
        several pools, do not count.
        """
        members = self.members(pool)
        if node not in members:
            members.append(node)
        limit = self.limit(pool, len(members))
        busy = tuple(sorted(m for m in members if m != node and current_of(m) in DRAINED_STATES))
        allowed = limit is None or len(busy) < limit
        return Admission(allowed=allowed, pool=pool, limit=limit, busy=busy, pool_size=len(members))

    def free_slots(self, pool: str, current_of: Callable[[str], str]) -> int | None:
        """How many more of the pool's nodes may start now (None: no limit)."""
        members = self._members.get(pool, [])
        limit = self.limit(pool, len(members))
        if limit is None:
            return None
        return max(0, limit - sum(1 for m in members if current_of(m) in DRAINED_STATES))
