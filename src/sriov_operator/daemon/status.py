"""The NodeState status the daemon publishes, and whether it differs from what is there.

Pure: the daemon writes (server-side apply, its own field manager) only when
`status_changed` says so, so an idle node costs no API writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.daemon.conditions import DAEMON_CONDITIONS, ConditionSpec, merge_conditions
from sriov_operator.daemon.sync import Decision


def daemon_status(
    current: Mapping[str, Any],
    interfaces: Sequence[Mapping[str, Any]],
    decision: Decision,
    conditions: Sequence[ConditionSpec],
    now: datetime,
) -> dict[str, Any]:
    """The fields the daemon owns in ``status`` (the drain controller owns its Draining condition)."""
    generation = int((current.get("metadata") or {}).get("generation") or 0)
    previous = (current.get("status") or {}).get("conditions") or []
    return {
        "interfaces": list(interfaces),
        "syncStatus": decision.sync_status,
        "lastSyncError": decision.last_sync_error,
        "conditions": merge_conditions(previous, conditions, generation, now),
    }


def status_changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    status = current.get("status") or {}
    ours = [c for c in status.get("conditions") or [] if c.get("type") in DAEMON_CONDITIONS]
    return (
        (status.get("interfaces") or []) != wanted["interfaces"]
        or status.get("syncStatus") != wanted["syncStatus"]
        or (status.get("lastSyncError") or "") != wanted["lastSyncError"]
        or sorted(ours, key=lambda c: c["type"]) != sorted(wanted["conditions"], key=lambda c: c["type"])
    )


def status_apply_body(name: str, namespace: str, status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": SriovNetworkNodeState.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "status": dict(status),
    }
