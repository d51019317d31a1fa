"""Drain controller benchmark: the pure decisions a reconcile makes, at 1,000 and 5,000 nodes.

Run: ``python bench/bench_drain.py``. Prints the rows of bench/RESULTS.md (section
"Drain controller"). What is measured is what one reconcile computes besides its
API calls: the pool index (rebuilt only when pools, node labels or the set of
managed nodes change), one admission (a node that wants to start), the state
machine step, and which pods leave a node with 110 pods.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sriov_operator.api.models import SriovNetworkPoolConfig
from sriov_operator.operator.drain.decision import NodeDrainState, decide
from sriov_operator.operator.drain.pods import drain_work
from sriov_operator.operator.drain.pools import PoolIndex

POOLS = 4
RUNS = 30
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def pools() -> list[SriovNetworkPoolConfig]:
    return [
        SriovNetworkPoolConfig.model_validate(
            {
                "metadata": {"name": f"rack{i}", "namespace": "ns"},
                "spec": {"nodeSelector": {"matchLabels": {"rack": str(i)}}, "maxUnavailable": "10%"},
            }
        )
        for i in range(POOLS)
    ]


def labels(count: int) -> dict[str, dict[str, str]]:
    """Every fifth node is in no pool; every node has its own hostname label (no pool reads it)."""
    return {
        f"worker-{i}": {
            "rack": str(i % (POOLS + 1)),
            "kubernetes.io/hostname": f"worker-{i}",
            "sriov": "true",
        }
        for i in range(count)
    }


def pod(index: int) -> dict[str, Any]:
    resources = {"openshift.io/intelnics": "1"} if index % 10 == 0 else {"cpu": "100m"}
    owner = [{"kind": "DaemonSet", "name": "ds", "controller": True}] if index % 25 == 0 else []
    return {
        "metadata": {"name": f"p{index}", "namespace": "apps", "ownerReferences": owner},
        "spec": {"containers": [{"name": "c", "resources": {"limits": resources}}]},
        "status": {"phase": "Running"},
    }


def measure(count: int) -> tuple[float, float, float]:
    """(index build, one admission, one state-machine step) in ms for ``count`` managed nodes."""
    configs, node_labels = pools(), labels(count)
    index = PoolIndex(configs, node_labels)
    current = dict.fromkeys(node_labels, "Idle")
    state = NodeDrainState("Drain_Required", "Idle")

    def step() -> object:
        return decide(
            state,
            now=NOW,
            drain_disabled=False,
            membership=index.membership(node_labels["worker-1"]),
            admit=lambda pool: index.admit("worker-1", pool, current.__getitem__),
            pool_wait=30.0,
        )

    return (
        median_ms(lambda: PoolIndex(configs, node_labels)),
        median_ms(lambda: index.admit("worker-1", "rack1", current.__getitem__)),
        median_ms(step),
    )


def main() -> None:
    small, large = measure(1000), measure(5000)
    print("| measure | 1,000 nodes | 5,000 nodes |")
    print("|---|---|---|")
    names = (
        "pool index build (4 pools; on a pool, label or membership change)",
        "one admission (a node wanting to start)",
        "one state-machine step incl. admission",
    )
    for position, name in enumerate(names):
        print(f"| {name} | {small[position]:.3f} ms | {large[position]:.3f} ms |")
    pods = [pod(i) for i in range(110)]
    for request in ("Drain_Required", "Reboot_Required"):
        took = median_ms(lambda request=request: drain_work(pods, request, "openshift.io"))
        leaving = len(drain_work(pods, request, "openshift.io").to_evict)
        print(f"| pods to evict for {request}, 110 pods on the node ({leaving} leave) | {took:.3f} ms | |")


if __name__ == "__main__":
    main()
