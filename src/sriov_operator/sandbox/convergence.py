"""Is the sandbox there yet? What each worker, policy and the example pod still wait for (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sriov_operator.api.conditions import POLICY_NO_DEVICE_SELECTED, POLICY_RESOURCE_UNUSABLE
from sriov_operator.api.constants import APPLIED_GENERATION_ANNOTATION
from sriov_operator.api.meta import annotations_of
from sriov_operator.sandbox.device_plugin import handed_over_resources
from sriov_operator.sandbox.snapshot import (
    Snapshot,
    spec_interfaces,
    status_of,
)

PROBLEM_CONDITIONS = ("Degraded", "Draining", "Progressing")  # the first one True explains the state


def _condition_note(state: Mapping[str, Any]) -> str:
    true = {c.get("type"): c for c in status_of(state).get("conditions") or [] if c.get("status") == "True"}
    for kind in PROBLEM_CONDITIONS:
        if (condition := true.get(kind)) is not None:
            return f"; {kind} {condition.get('reason', '')}: {condition.get('message', '')}"
    return ""


def node_waits_for(snapshot: Snapshot, node: str, resources: frozenset[str], prefix: str) -> str | None:
    """Why ``node`` is not done, or None. ``resources``: the resource names its spec must configure."""
    state = snapshot.states.get(node)
    if node not in snapshot.nodes:
        return f"{node}: no Node object"
    if state is None:
        return f"{node}: no SriovNetworkNodeState yet (the operator creates it)"
    status = status_of(state)
    sync = status.get("syncStatus") or "no syncStatus yet"
    if sync != "Succeeded":
        error = f": {status['lastSyncError']}" if status.get("lastSyncError") else ""
        return f"{node}: syncStatus {sync}{error}{_condition_note(state)}"
    generation = str(state["metadata"].get("generation"))
    applied = annotations_of(state).get(APPLIED_GENERATION_ANNOTATION)
    if applied != generation:
        return f"{node}: spec generation {generation} not applied yet (applied: {applied or 'none'})"
    configured = {
        group.get("resourceName") for iface in spec_interfaces(state) for group in iface.get("vfGroups") or []
    }
    if missing := sorted(resources - configured):
        return f"{node}: spec does not configure {', '.join(missing)} yet"
    published = handed_over_resources(snapshot.configmaps.get(node), state)
    if published is None and resources:
        return f"{node}: device-plugin config not handed over yet"
    allocatable = status_of(snapshot.nodes[node]).get("allocatable") or {}
    shown = {k: int(v) for k, v in allocatable.items() if k.startswith(f"{prefix}/")}
    if published is not None and shown != published:
        return f"{node}: resources {published} not published on the Node yet"
    return None


# Verdicts only the user can change (the summary and `why` show them): waiting would never end.
SETTLED_NOT_READY = frozenset({POLICY_NO_DEVICE_SELECTED, POLICY_RESOURCE_UNUSABLE})


def policy_waits_for(policy: Mapping[str, Any]) -> str | None:
    """A policy is done when its Ready condition is True, or False with a settled verdict (a VM
    worker in QEMU has no RDMA driver for an isRdma policy: ResourceUnusable). A node where it
    selects no device is not counted ready, yet does not hold it back (NoDeviceOnSomeNodes).
    Before the operator writes conditions, every matched node must be ready."""
    status = status_of(policy)
    name = policy["metadata"]["name"]
    matched, ready = status.get("matchedNodes"), status.get("readyNodes")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (condition := conditions.get("Ready")) is not None and matched is not None:
        if condition.get("status") == "True" or condition.get("reason") in SETTLED_NOT_READY:
            return None
        reason, message = condition.get("reason", ""), condition.get("message", "")
        return f"SriovNetworkNodePolicy {name}: not ready ({reason}): {message}"
    if matched is None or ready != matched:
        return f"SriovNetworkNodePolicy {name}: {ready or 0} of {matched or '?'} matched nodes ready"
    return None


def injected_resources(pod: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """The ``prefix`` resources the webhook put in the pod's first container's requests."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    requests = (containers[0].get("resources") or {}).get("requests") or {}
    return {k: str(v) for k, v in requests.items() if k.startswith(f"{prefix}/")}


def waiting_for(snapshot: Snapshot, *, resources: frozenset[str], expect_pod: bool, prefix: str) -> list[str]:
    """Every reason the sandbox is not converged yet; empty once it is."""
    reasons = [r for node in snapshot.workers if (r := node_waits_for(snapshot, node, resources, prefix))]
    reasons += [r for policy in snapshot.policies if (r := policy_waits_for(policy))]
    if expect_pod:
        if snapshot.pod is None:
            reasons.append("the example pod is not created yet (the webhook must admit it)")
        elif not injected_resources(snapshot.pod, prefix):
            reasons.append("the example pod has no SR-IOV resources injected")
        elif not scheduled_node(snapshot.pod):
            reasons.append("the example pod is not scheduled yet (no node offers its resources)")
    return reasons


def scheduled_node(pod: Mapping[str, Any]) -> str | None:
    """The node kube-scheduler bound ``pod`` to, or None while it is unscheduled."""
    node = (pod.get("spec") or {}).get("nodeName")
    return str(node) if node else None
