"""The operator's own Prometheus metrics (the runtime adds queue, reconcile and API-write metrics)."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

from prometheus_client import Gauge

NODE_STATES = Gauge(
    "sriov_operator_node_states",
    "SriovNetworkNodeStates by status.syncStatus (Unknown: no status yet).",
    ["sync_status"],
)
SYNC_STATUSES = ("Succeeded", "InProgress", "Failed", "Unknown")


def sync_status_label(state: dict[str, Any] | None) -> str | None:
    if state is None:
        return None
    return str((state.get("status") or {}).get("syncStatus") or "Unknown")


class SyncStatusGauge:
    """Keeps ``sriov_operator_node_states`` in step with NodeState events, O(1) per event."""

    def __init__(self) -> None:
        self.counts: Tally[str] = Tally()
        for status in SYNC_STATUSES:
            NODE_STATES.labels(sync_status=status).set(0)

    def update(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        before, after = sync_status_label(old), sync_status_label(new)
        if before == after:
            return
        for status, step in ((before, -1), (after, 1)):
            if status is not None:
                self.counts[status] += step
                NODE_STATES.labels(sync_status=status).set(self.counts[status])
