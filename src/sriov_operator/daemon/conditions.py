"""The daemon's NodeState conditions (Ready, Progressing, Degraded, NoIOMMU) from a decision.

``lastTransitionTime`` moves only when a condition's status changes, so
re-publishing the same state writes nothing (the status is compared before
writing).  The drain controller owns the ``Draining`` condition; it is never
touched here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sriov_operator.api.constants import SYNC_FAILED, SYNC_SUCCEEDED
from sriov_operator.daemon.sync import Decision, Failure

CONDITION_READY = "Ready"
CONDITION_PROGRESSING = "Progressing"
CONDITION_DEGRADED = "Degraded"
CONDITION_NO_IOMMU = "NoIOMMU"
DAEMON_CONDITIONS = (CONDITION_READY, CONDITION_PROGRESSING, CONDITION_DEGRADED, CONDITION_NO_IOMMU)

NO_IOMMU_MESSAGE = (
    "vfio runs with enable_unsafe_noiommu_mode=1: DPDK devices do DMA without IOMMU isolation "
    "(expected on a VM without a virtual IOMMU)"
)

_STEP_REASONS = {
    "withdraw": "Rebooted",
    "apply": "Applying",
    "request-drain": "DrainRequested",
    "wait-drain": "WaitingForDrain",
    "hand-over": "HandingOver",
    "request-idle": "Finishing",
    "record-generation": "Finishing",
}


@dataclass(frozen=True)
class ConditionSpec:
    type: str
    status: Literal["True", "False"]
    reason: str
    message: str


def _with_warnings(message: str, warnings: tuple[str, ...]) -> str:
    return f"{message} (plan warnings: {'; '.join(warnings)})" if warnings else message


def daemon_conditions(
    decision: Decision, failure: Failure | None, no_iommu: bool, warnings: tuple[str, ...] = ()
) -> list[ConditionSpec]:
    """The daemon's conditions; the host plan's ``warnings`` (not fixed by the daemon) end Ready's message."""
    if decision.sync_status == SYNC_SUCCEEDED:
        ready_message = _with_warnings(decision.progress, warnings)
        ready = ConditionSpec(CONDITION_READY, "True", "Synced", ready_message)
        progressing = ConditionSpec(CONDITION_PROGRESSING, "False", "Synced", decision.progress)
    else:
        reason = "SyncFailed" if decision.sync_status == SYNC_FAILED else _STEP_REASONS[decision.step]
        ready_message = _with_warnings(decision.last_sync_error or decision.progress, warnings)
        ready = ConditionSpec(CONDITION_READY, "False", reason, ready_message)
        progressing = ConditionSpec(CONDITION_PROGRESSING, "True", reason, decision.progress)
    if decision.sync_status == SYNC_FAILED:
        degraded_reason = failure.reason if failure and decision.step != "fail" else "PlanRejected"
        degraded = ConditionSpec(CONDITION_DEGRADED, "True", degraded_reason, decision.last_sync_error)
    else:
        degraded = ConditionSpec(CONDITION_DEGRADED, "False", "AsExpected", "")
    if no_iommu:
        iommu = ConditionSpec(CONDITION_NO_IOMMU, "True", "UnsafeNoIOMMUMode", NO_IOMMU_MESSAGE)
    else:
        iommu = ConditionSpec(CONDITION_NO_IOMMU, "False", "NotInUse", "")
    return [ready, progressing, degraded, iommu]


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Iterable[Mapping[str, Any]], wanted: Iterable[ConditionSpec], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Our conditions as metav1.Condition dicts, keeping each transition time while its status holds."""
    before = {c.get("type"): c for c in previous}
    merged = []
    for spec in wanted:
        old = before.get(spec.type)
        same = old is not None and old.get("status") == spec.status and old.get("lastTransitionTime")
        merged.append(
            {
                "type": spec.type,
                "status": spec.status,
                "reason": spec.reason,
                "message": spec.message,
                "lastTransitionTime": old["lastTransitionTime"] if same and old else _timestamp(now),
                "observedGeneration": generation,
            }
        )
    return merged
