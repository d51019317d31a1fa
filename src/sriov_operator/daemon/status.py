"""The NodeState status the daemon publishes, and whether it differs from what is there.

Pure: the daemon writes (server-side apply, its own field manager) only when
`status_changed` says so, so an idle node costs no API writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sriov_operator.api import conditions as c
from sriov_operator.api.conditions import DAEMON_CONDITIONS, Condition, merged_all
from sriov_operator.api.constants import API_VERSION, SYNC_FAILED, SYNC_SUCCEEDED
from sriov_operator.api.meta import generation_of, status_body
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.api.refs import ObjectRef
from sriov_operator.daemon.sync import Decision, Failure
from sriov_operator.host.ovs import OvsState

NO_IOMMU_MESSAGE = (
    "vfio runs with enable_unsafe_noiommu_mode=1: DPDK devices do DMA without IOMMU isolation "
    "(expected on a VM without a virtual IOMMU)"
)

# Ready/Progressing reasons while a step of the state machine runs.
STEP_REASONS = {
    "withdraw": "Rebooted",
    "apply": "Applying",
    "request-drain": "DrainRequested",
    "wait-drain": "WaitingForDrain",
    "wait-reboot": "Rebooting",
    "hand-over": "HandingOver",
    "request-idle": "Finishing",
    "record-generation": "Finishing",
}


def _with_warnings(message: str, warnings: tuple[str, ...]) -> str:
    return f"{message} (plan warnings: {'; '.join(warnings)})" if warnings else message


def daemon_conditions(
    decision: Decision, failure: Failure | None, no_iommu: bool, warnings: tuple[str, ...] = ()
) -> list[Condition]:
    """The daemon's conditions (Ready, Progressing, Degraded, NoIOMMU); the host plan's
    ``warnings`` (not fixed by the daemon) end Ready's message. The drain controller owns
    ``Draining``; it is never touched here."""
    if decision.sync_status == SYNC_SUCCEEDED:
        ready_message = _with_warnings(decision.progress, warnings)
        ready = Condition(c.READY, "True", c.DAEMON_SYNCED, ready_message)
        progressing = Condition(c.PROGRESSING, "False", c.DAEMON_SYNCED, decision.progress)
    else:
        reason = c.DAEMON_SYNC_FAILED if decision.sync_status == SYNC_FAILED else STEP_REASONS[decision.step]
        ready_message = _with_warnings(decision.last_sync_error or decision.progress, warnings)
        ready = Condition(c.READY, "False", reason, ready_message)
        progressing = Condition(c.PROGRESSING, "True", reason, decision.progress)
    if decision.sync_status == SYNC_FAILED:
        degraded_reason = failure.reason if failure else c.DAEMON_PLAN_REJECTED  # the failure just recorded
        degraded = Condition(c.DEGRADED, "True", degraded_reason, decision.last_sync_error)
    else:
        degraded = Condition(c.DEGRADED, "False", c.DAEMON_AS_EXPECTED, "")
    if no_iommu:
        iommu = Condition(c.NO_IOMMU, "True", c.DAEMON_NO_IOMMU_IN_USE, NO_IOMMU_MESSAGE)
    else:
        iommu = Condition(c.NO_IOMMU, "False", c.DAEMON_NO_IOMMU_NOT_IN_USE, "")
    return [ready, progressing, degraded, iommu]


def bridges_status(ovs: OvsState | None) -> dict[str, Any]:
    """``status.bridges``: the OVS bridges the operator created, as OVSDB has them (others are not ours)."""
    ours = [bridge.config.to_k8s() for bridge in (ovs.bridges if ovs else ()) if bridge.ours]
    return {"ovs": ours} if ours else {}


def daemon_status(
    current: Mapping[str, Any],
    interfaces: Sequence[Mapping[str, Any]],
    decision: Decision,
    conditions: Sequence[Condition],
    now: datetime,
    *,
    system: Mapping[str, Any] | None = None,
    bridges: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields the daemon owns in ``status`` (the drain controller owns its Draining condition);
    ``system``: node-wide settings read back from the host (``rdmaMode``); ``bridges``: `bridges_status`."""
    generation = generation_of(current) or 0
    previous = (current.get("status") or {}).get("conditions") or []
    return {
        "interfaces": list(interfaces),
        # left out when empty: an applied {} over a list we applied before reaches the API server as null
        **({"bridges": dict(bridges)} if bridges else {}),
        "system": dict(system or {}),
        "syncStatus": decision.sync_status,
        "lastSyncError": decision.last_sync_error,
        "conditions": merged_all(previous, conditions, now, generation),
    }


def status_changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    status = current.get("status") or {}
    ours = [c for c in status.get("conditions") or [] if c.get("type") in DAEMON_CONDITIONS]
    return (
        (status.get("interfaces") or []) != wanted["interfaces"]
        or (status.get("system") or {}) != wanted["system"]
        or (status.get("bridges") or {}) != wanted.get("bridges", {})
        or status.get("syncStatus") != wanted["syncStatus"]
        or (status.get("lastSyncError") or "") != wanted["lastSyncError"]
        or sorted(ours, key=lambda c: c["type"]) != sorted(wanted["conditions"], key=lambda c: c["type"])
    )


def status_apply_body(name: str, namespace: str, status: Mapping[str, Any]) -> dict[str, Any]:
    state = ObjectRef(
        kind=SriovNetworkNodeState.KIND, api_version=API_VERSION, name=name, namespace=namespace
    )
    return status_body(state, status)
