"""Status conditions: the one condition type, the one merge, and every type and reason we write.

A controller decides a `Condition` (type, status, reason, message) as plain data;
`merged` / `merged_all` turn decisions into ``metav1.Condition`` dicts. The rule
they share: ``lastTransitionTime`` moves only when a condition's status changes,
so re-publishing the same decision writes nothing (callers compare before
writing). The reasons are listed in docs (operator.md, drain.md, config-daemon.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

ConditionStatus = Literal["True", "False", "Unknown"]

# Condition types. Ready is on every kind with conditions; the config daemon owns
# Progressing, Degraded and NoIOMMU on its NodeState, the drain controller Draining.
READY: Final = "Ready"
PROGRESSING: Final = "Progressing"
DEGRADED: Final = "Degraded"
NO_IOMMU: Final = "NoIOMMU"
DRAINING: Final = "Draining"
DAEMON_CONDITIONS: Final = (READY, PROGRESSING, DEGRADED, NO_IOMMU)

# SriovNetwork / SriovIBNetwork / OVSNetwork Ready reasons: upstream's, plus one of
# ours for a NAD that belongs to someone else.
NETWORK_READY: Final = "NetworkReady"
NAD_INVALID: Final = "NetworkAttachmentDefinitionInvalid"
NAMESPACE_NOT_FOUND: Final = "NamespaceNotFound"
NAD_OWNED_BY_OTHER: Final = "NetworkAttachmentDefinitionOwnedByOther"

# SriovNetworkNodePolicy Ready reasons (ours: upstream policies have no conditions).
POLICY_READY: Final = "AllNodesReady"
POLICY_NODES_NOT_READY: Final = "NodesNotReady"
POLICY_NODES_FAILED: Final = "NodesFailed"
POLICY_BLOCKED: Final = "BlockedByOtherPolicy"  # failed nodes fail only for other policies (named)
POLICY_NO_MATCHING_NODES: Final = "NoMatchingNodes"
POLICY_INVALID: Final = "InvalidPolicy"
# The policy's nodeSelector matches nodes, but its nicSelector selects no device on any of them
# (or a higher-priority policy takes every PF it selects): Ready False, it configures nothing.
POLICY_NO_DEVICE_SELECTED: Final = "NoDeviceSelected"
# Ready True: every node where it configures something is ready; on the others (named) it selects
# no device. readyNodes counts only nodes where it configures something.
POLICY_NO_DEVICE_ON_SOME_NODES: Final = "NoDeviceOnSomeNodes"
# Configured, but the node's daemon says the device plugin cannot use its devices (an isRdma
# device without its RDMA driver): Ready False, the message names the nodes and the fix.
POLICY_RESOURCE_UNUSABLE: Final = "ResourceUnusable"

# SriovOperatorConfig Ready reasons (upstream's, and ours for workloads not running yet).
CONFIG_READY: Final = "OperatorConfigReady"
CONFIG_SYNC_FAILED: Final = "OperatorConfigSyncFailed"
CONFIG_UNSUPPORTED: Final = "UnsupportedConfiguration"
WORKLOADS_NOT_READY: Final = "WorkloadsNotReady"

# NodeState Draining reasons (status True only while pods are being evicted).
DRAIN_NOT_REQUESTED: Final = "NotRequested"
DRAIN_DRAINING: Final = "Draining"
DRAIN_COMPLETE: Final = "DrainComplete"
DRAIN_BLOCKED: Final = "DrainBlocked"
DRAIN_DISABLED: Final = "DrainDisabled"
DRAIN_WAITING_FOR_POOL: Final = "WaitingForPool"
DRAIN_POOL_CONFLICT: Final = "PoolConflict"
DRAIN_INVALID_REQUEST: Final = "InvalidRequest"

# NodeState Ready / Progressing / Degraded / NoIOMMU reasons (the config daemon's).
DAEMON_SYNCED: Final = "Synced"
DAEMON_SYNC_FAILED: Final = "SyncFailed"
DAEMON_PLAN_REJECTED: Final = "PlanRejected"
DAEMON_AS_EXPECTED: Final = "AsExpected"
DAEMON_NO_IOMMU_IN_USE: Final = "UnsafeNoIOMMUMode"
DAEMON_NO_IOMMU_NOT_IN_USE: Final = "NotInUse"


@dataclass(frozen=True)
class Condition:
    """What a controller decided about one condition type; `merged` adds the timestamps."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def _as_dict(
    value: Condition, previous: Mapping[str, Any] | None, now: datetime, observed_generation: int | None
) -> dict[str, Any]:
    since = (
        previous.get("lastTransitionTime") if previous and previous.get("status") == value.status else None
    )
    condition: dict[str, Any] = {
        "type": value.type,
        "status": value.status,
        "reason": value.reason,
        "message": value.message,
        "lastTransitionTime": since or timestamp(now),
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    return condition


def merged(
    current: Sequence[Mapping[str, Any]] | None,
    value: Condition,
    now: datetime,
    observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    """``current`` with ``value`` set, sorted by type; other condition types are kept as they are
    (other writers own them)."""
    conditions = [dict(c) for c in current or [] if c.get("type") != value.type]
    conditions.append(_as_dict(value, find(current, value.type), now, observed_generation))
    return sorted(conditions, key=lambda c: str(c.get("type")))


def merged_all(
    current: Iterable[Mapping[str, Any]], wanted: Iterable[Condition], now: datetime, observed_generation: int
) -> list[dict[str, Any]]:
    """Only the ``wanted`` conditions, in order, for a writer that applies its own (server-side apply)."""
    before = list(current)
    return [_as_dict(value, find(before, value.type), now, observed_generation) for value in wanted]
