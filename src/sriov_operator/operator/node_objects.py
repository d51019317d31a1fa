"""What the operator writes for one node, and whether a write is needed at all.

Everything here is a pure function of the rendered result and the cached
objects, so "a no-op reconcile writes nothing" is decided (and tested) here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import (
    API_VERSION,
    DEVICE_PLUGIN_CONFIG_FOR_LABEL,
    DEVICE_PLUGIN_CONFIG_KEY,
    DEVICE_PLUGIN_ENABLED,
    DEVICE_PLUGIN_LABEL,
    FOR_GENERATION_ANNOTATION,
)
from sriov_operator.api.meta import labels_of
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.api.names import (
    device_plugin_configmap_annotations,
    device_plugin_configmap_labels,
    device_plugin_configmap_name,
)


def node_state_body(node_name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The SriovNetworkNodeState we server-side apply: named after the node, the engine's spec, no more.

    An empty spec is left out rather than sent as ``{}`` (which server-side apply
    turns into ``spec: null``, which the schema refuses); applying without it
    drops every spec field we owned.
    """
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": SriovNetworkNodeState.KIND,
        "metadata": {"name": node_name, "namespace": namespace},
    }
    if spec:
        body["spec"] = dict(spec)
    return body


def node_state_needs_write(current: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> bool:
    return current is None or (current.get("spec") or {}) != spec


def device_plugin_config(resources: list[dict[str, Any]]) -> str:
    """The device plugin's config file: ``{"resourceList": [...]}`` (the engine keeps a stable order)."""
    return json.dumps({"resourceList": resources}, separators=(",", ":"))


def device_plugin_configmap(
    node_name: str, namespace: str, resources: list[dict[str, Any]], generation: int
) -> dict[str, Any]:
    """The node's device-plugin ConfigMap, stamped with the NodeState spec generation it goes with."""
    metadata: dict[str, Any] = {
        "name": device_plugin_configmap_name(node_name),
        "namespace": namespace,
        "labels": device_plugin_configmap_labels(node_name),
        "annotations": {
            FOR_GENERATION_ANNOTATION: str(generation),
            **device_plugin_configmap_annotations(node_name),
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {DEVICE_PLUGIN_CONFIG_KEY: device_plugin_config(resources)},
    }


def configmap_needs_write(current: Mapping[str, Any] | None, resources: list[dict[str, Any]]) -> bool:
    """Only a content change is written: an unchanged config keeps its old generation stamp.

    The config daemon hands a config over once its node is configured to the
    stamped generation; re-stamping identical content would only delay that.
    """
    if current is None:
        return True
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if DEVICE_PLUGIN_CONFIG_FOR_LABEL not in annotations:
        return True  # written before the node annotation existed: the admission policy needs it
    data = current.get("data") or {}
    return data.get(DEVICE_PLUGIN_CONFIG_KEY) != device_plugin_config(resources)


def device_plugin_label_patch(node: Mapping[str, Any], has_resources: bool) -> dict[str, Any] | None:
    """Merge patch of the Node's device-plugin label, or None when it is already right.

    Enabled where the node has resources; removed where it has none (an admin's
    ``Disabled`` on a node without resources is left alone).
    """
    current = labels_of(node).get(DEVICE_PLUGIN_LABEL)
    if has_resources and current != DEVICE_PLUGIN_ENABLED:
        return {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: DEVICE_PLUGIN_ENABLED}}}
    if not has_resources and current == DEVICE_PLUGIN_ENABLED:
        return {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: None}}}
    return None


SentLabel = tuple[str, dict[str, Any]]  # (the cached Node's resourceVersion when sent, the patch)


def label_patch_to_send(
    node: Mapping[str, Any], has_resources: bool, sent: SentLabel | None
) -> dict[str, Any] | None:
    """`device_plugin_label_patch`, unless ``sent`` is that same patch, sent while the cache held this
    same version of the Node: the patch succeeded and the cache has not seen the Node come back yet
    (the reconcile runs again on the ConfigMap's event), so sending it again writes nothing new."""
    patch = device_plugin_label_patch(node, has_resources)
    version = str((node.get("metadata") or {}).get("resourceVersion") or "")
    if patch is None or (sent is not None and sent == (version, patch) and version):
        return None
    return patch


def orphan_deletion_delay(missing_since: float, now: float, grace: float) -> float:
    """Seconds until a NodeState whose Node is gone (or no longer managed) may be deleted; 0 = now."""
    return max(0.0, missing_since + grace - now)
