"""Informer transforms: keep only what controllers read, so large clusters cost little memory."""

from __future__ import annotations

import sys
from typing import Any

from sriov_operator.api.conditions import READY

Object = dict[str, Any]
INTERN_MAX = 64  # strings up to this length are shared between cached objects (keys, labels, enums)

NODE_METADATA_KEPT = (
    "name",
    "uid",
    "resourceVersion",
    "labels",
    "annotations",
    "creationTimestamp",
    "deletionTimestamp",
)
NODE_SPEC_KEPT = ("providerID", "unschedulable", "taints")
NODE_STATUS_KEPT = ("addresses", "conditions", "allocatable")  # conditions: Ready; allocatable: "vendor/name"


def shared_strings(value: Any) -> Any:
    """``value`` with its short strings (all keys, most values) replaced by one shared copy each.

    JSON parsing makes a new string for every key and value of every object;
    across thousands of similar objects most are equal (label keys and values,
    field names, ``"True"``, vendor ids), so sharing them saves about a third of
    a cache's memory.
    """
    if isinstance(value, dict):
        return {sys.intern(k): shared_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shared_strings(v) for v in value]
    if isinstance(value, str) and len(value) <= INTERN_MAX:
        return sys.intern(value)
    return value


def strip_managed_fields(obj: Object) -> Object:
    """Drop ``metadata.managedFields`` (server-side apply bookkeeping: often the largest part)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return obj


def _pick(source: Any, keys: tuple[str, ...]) -> Object:
    if not isinstance(source, dict):
        return {}
    return {key: source[key] for key in keys if key in source}


def slim_node(node: Object) -> Object:
    """A Node with what the operator reads: labels, annotations, providerID, unschedulable, taints,
    addresses, the Ready condition and extended-resource allocatable (``vendor/name`` keys).

    Dropped: images (often tens of KiB per node), managedFields, volumes, daemon
    endpoints, node info and the other conditions.
    """
    status = node.get("status") if isinstance(node.get("status"), dict) else {}
    assert isinstance(status, dict)
    slim_status: Object = {}
    if "addresses" in status:
        slim_status["addresses"] = status["addresses"]
    ready = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == READY]
    if ready:
        slim_status["conditions"] = ready
    allocatable = {k: v for k, v in (status.get("allocatable") or {}).items() if "/" in k}
    if allocatable:
        slim_status["allocatable"] = allocatable
    slim: Object = shared_strings(
        {
            "apiVersion": node.get("apiVersion", "v1"),
            "kind": node.get("kind", "Node"),
            "metadata": _pick(node.get("metadata"), NODE_METADATA_KEPT),
            "spec": _pick(node.get("spec"), NODE_SPEC_KEPT),
            "status": slim_status,
        }
    )
    return slim


def slim_node_state(state: Object) -> Object:
    """A SriovNetworkNodeState without managedFields and the per-VF lists, its strings shared.

    The engine and the operator read the PFs (``status.interfaces[]`` without
    ``Vfs``), the spec, ``syncStatus``, ``lastSyncError`` and the conditions; the
    VF list is the largest part of a busy node's status.
    """
    strip_managed_fields(state)
    status = state.get("status")
    if isinstance(status, dict):
        for interface in status.get("interfaces") or []:
            if isinstance(interface, dict):
                interface.pop("Vfs", None)
    slim: Object = shared_strings(state)
    return slim
