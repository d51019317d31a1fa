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


class WritesInFlight:
    """Writes that succeeded but whose watch event has not reached the cache yet, by (kind, name).

    A reconcile that runs again in that window (another object's event brought its key back)
    reads the old object from the cache and would send the same write again; it asks here first.
    Any event for the object (its own write's, or anyone's change since) ends the window, so a
    change made after the write (an admin deleting the ConfigMap) is answered as usual.
    """

    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], Mapping[str, Any]] = {}

    def sent(self, kind: str, name: str, body: Mapping[str, Any]) -> None:
        self._bodies[kind, name] = body

    def in_flight(self, kind: str, name: str, body: Mapping[str, Any]) -> bool:
        """True when ``body`` is what was last written and the cache has not seen the object since."""
        return self._bodies.get((kind, name)) == body

    def seen(self, kind: str, name: str) -> None:
        self._bodies.pop((kind, name), None)


def orphan_deletion_delay(missing_since: float, now: float, grace: float) -> float:
    """Seconds until a NodeState whose Node is gone (or no longer managed) may be deleted; 0 = now."""
    return max(0.0, missing_since + grace - now)
