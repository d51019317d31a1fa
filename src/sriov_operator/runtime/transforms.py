"""Informer transforms: keep only what controllers read, so large clusters cost little memory."""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]

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
    ready = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"]
    if ready:
        slim_status["conditions"] = ready
    allocatable = {k: v for k, v in (status.get("allocatable") or {}).items() if "/" in k}
    if allocatable:
        slim_status["allocatable"] = allocatable
    return {
        "apiVersion": node.get("apiVersion", "v1"),
        "kind": node.get("kind", "Node"),
        "metadata": _pick(node.get("metadata"), NODE_METADATA_KEPT),
        "spec": _pick(node.get("spec"), NODE_SPEC_KEPT),
        "status": slim_status,
    }
