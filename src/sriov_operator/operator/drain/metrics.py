"""Prometheus metrics of the drain controller (docs/drain.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DRAINS_IN_PROGRESS = Gauge(
    "sriov_operator_drains_in_progress",
    "Nodes whose drain has started and not finished (current-state Draining).",
)
DRAIN_DURATION = Histogram(
    "sriov_operator_drain_duration_seconds",
    "From a drain's start to its end; result is complete, blocked (gave up at the deadline) or cancelled.",
    ["result"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
EVICTIONS = Counter(
    "sriov_operator_drain_evictions",
    "Pods a drain asked to leave; result: evicted, blocked (refused, e.g. by a PDB) or forced.",
    ["result"],
)
