"""Drain pools: which pool a node belongs to and whether it may start draining now.

A SriovNetworkPoolConfig selects nodes by label and caps how many of them may be
drained (Draining or DrainComplete) at once with ``maxUnavailable``. Nodes in no
pool form the default pool, which drains one node at a time. A node selected by
two pools is a configuration error: it never drains until the pools are fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def admit(
    node: str,
    pool: str,
    pools: Iterable[SriovNetworkPoolConfig],
    labels_by_node: Mapping[str, Mapping[str, str]],
    current_by_node: Mapping[str, str],
) -> Admission:
    """May ``node`` (a member of ``pool``) start draining, given every managed node's labels and state?

    Pool sizes and the busy count are taken over the managed nodes (``labels_by_node``).
    Members of other pools, and nodes claimed by several pools, do not count.
    """
    pool_list = list(pools)
    config = next((p for p in pool_list if p.name == pool), None)
    members = [name for name, labels in labels_by_node.items() if membership(pool_list, labels).pool == pool]
    if node not in members:
        members.append(node)
    if config is None:
        limit: int | None = DEFAULT_POOL_MAX_UNAVAILABLE
    else:
        limit = max_unavailable_count(config.spec.max_unavailable, len(members))
    busy = tuple(sorted(m for m in members if m != node and current_by_node.get(m) in DRAINED_STATES))
    allowed = limit is None or len(busy) < limit
    return Admission(allowed=allowed, pool=pool, limit=limit, busy=busy, pool_size=len(members))
