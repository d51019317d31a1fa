"""The informers the operator's controllers share, and the engine view fed from them.

One view per manager (`shared_view`): the controllers' ``register`` functions all
take their informers, caches, Event recorder and mappers from it. Informer events
update the `ClusterCache` once, here; what the cache says must be re-rendered,
and whose status may have moved, is handed to the listeners (the node-state,
device-plugin and policy-status controllers) as keys to enqueue.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sriov_operator.api.conditions import READY
from sriov_operator.api.constants import (
    APPLIED_GENERATION_ANNOTATION,
    DEVICE_PLUGIN_LABEL,
    FAILED_POLICIES_ANNOTATION,
    SUPPORTED_NIC_CONFIGMAP,
    UNUSABLE_POLICIES_ANNOTATION,
)
from sriov_operator.api.meta import annotations_of, labels_of, meta_of
from sriov_operator.api.names import node_of_device_plugin_configmap
from sriov_operator.kube.objects import Object
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    NAMESPACES,
    NETWORK_ATTACHMENT_DEFINITIONS,
    NODES,
    OVS_NETWORKS,
    SRIOV_IB_NETWORKS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORK_POOL_CONFIGS,
    SRIOV_NETWORKS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.operator.cluster_cache import ClusterCache
from sriov_operator.operator.metrics import SyncStatusGauge
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.decoding import NODE_DECODER, NODE_STATE_DECODER
from sriov_operator.runtime.events import EventRecorder
from sriov_operator.runtime.informer import EventKind, Informer
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import slim_node, slim_node_state, strip_managed_fields
from sriov_operator.runtime.workqueue import WorkQueue

COMPONENT = "sriov-fdp-operator"  # the Events' reporting controller


def readiness_inputs(state: Object | None) -> tuple[Any, ...]:
    """What of a NodeState the policy status reads; a change elsewhere does not move it."""
    status = (state or {}).get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == READY]
    annotations = annotations_of(state)
    return (
        meta_of(state).get("generation"),
        status.get("syncStatus"),
        annotations.get(APPLIED_GENERATION_ANNOTATION),
        annotations.get(FAILED_POLICIES_ANNOTATION),  # written after the Failed status: names the culprit
        annotations.get(UNUSABLE_POLICIES_ANNOTATION),
        repr(ready),
    )


@dataclass
class Listeners:
    """Where the view sends work: node names to re-render, policy names whose status may have moved."""

    nodes: list[Callable[[Iterable[str]], None]] = field(default_factory=list)
    policies: list[Callable[[Iterable[str]], None]] = field(default_factory=list)


class OperatorView:
    def __init__(self, manager: Manager, settings: OperatorSettings) -> None:
        namespace = settings.namespace
        self._manager = manager
        self.settings = settings
        self.cache = ClusterCache(namespace, settings.resource_prefix)
        self.listeners = Listeners()
        self.events: EventRecorder = manager.events(COMPONENT)
        self.spec_queue: WorkQueue | None = None  # the node-states controller's, once registered
        self.sync_status = SyncStatusGauge()
        self.nodes: Informer = manager.informer(NODES, transform=slim_node, decoder=NODE_DECODER)
        self.states: Informer = manager.informer(
            SRIOV_NETWORK_NODE_STATES,
            namespace=namespace,
            transform=slim_node_state,
            decoder=NODE_STATE_DECODER,
        )
        self.policies: Informer = manager.informer(
            SRIOV_NETWORK_NODE_POLICIES, namespace=namespace, transform=strip_managed_fields
        )
        self.pools: Informer = manager.informer(
            SRIOV_NETWORK_POOL_CONFIGS, namespace=namespace, transform=strip_managed_fields
        )
        self.configs: Informer = manager.informer(
            SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields
        )
        self.config_maps: Informer = manager.informer(
            CONFIG_MAPS, namespace=namespace, transform=strip_managed_fields
        )
        self.nodes.add_handler(self._on_node)
        self.states.add_handler(self._on_state)
        self.policies.add_handler(self._on_policy)
        self.pools.add_handler(self._on_pool)
        self.configs.add_handler(self._on_config)
        self.config_maps.add_handler(self._on_config_map)

    # --- made on first use: only where Multus's NAD CRD is served (the network controller) -----

    @cached_property
    def networks(self) -> dict[str, Informer]:
        """SriovNetwork, SriovIBNetwork and OVSNetwork, by kind."""
        return {
            resource.kind: self._manager.informer(resource, transform=strip_managed_fields)
            for resource in (SRIOV_NETWORKS, SRIOV_IB_NETWORKS, OVS_NETWORKS)
        }

    @cached_property
    def nads(self) -> Informer:
        return self._manager.informer(NETWORK_ATTACHMENT_DEFINITIONS, transform=strip_managed_fields)

    @cached_property
    def namespaces(self) -> Informer:
        return self._manager.informer(NAMESPACES, transform=strip_managed_fields)

    # --- fan-out ------------------------------------------------------------------------------

    def _render(self, names: Iterable[str]) -> None:
        names = list(names)
        if names:
            for listener in self.listeners.nodes:
                listener(names)

    def _render_all(self) -> None:
        self._render(
            {*self.cache.managed_nodes(), *(state["metadata"]["name"] for state in self.states.list())}
        )
        self._policy_status(self.cache.index())

    def _policy_status(self, names: Iterable[str]) -> None:
        names = list(names)
        if names:
            for listener in self.listeners.policies:
                listener(names)

    def policies_selecting(self, node_name: str) -> list[str]:
        return self.cache.policies_selecting(node_name)

    # --- handlers -----------------------------------------------------------------------------

    def _on_node(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind == "relisted":
            return
        if new is None:
            name = str((old or {}).get("metadata", {}).get("name"))
            before = self.policies_selecting(name)
            self.cache.remove_node(name)
            self._render([name])
            self._policy_status(before)
            return
        name = new["metadata"]["name"]
        before = self.policies_selecting(name) if kind == "modified" else []
        changed = self.cache.set_node(new)
        if changed or labels_of(old).get(DEVICE_PLUGIN_LABEL) != labels_of(new).get(DEVICE_PLUGIN_LABEL):
            self._render([name])
        if changed:
            self._policy_status({*before, *self.policies_selecting(name)})

    def _on_state(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind == "relisted":
            return
        self.sync_status.update(old, new)
        name = str(((new or old) or {}).get("metadata", {}).get("name"))
        if new is None:
            self.cache.remove_node_state(name)
            self._render([name])
        elif self.cache.set_node_state(new) or (old or {}).get("spec") != new.get("spec") or old is None:
            self._render([name])
        if readiness_inputs(old) != readiness_inputs(new):
            self._policy_status(self.policies_selecting(name))

    def _on_policy(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind == "relisted":
            return
        name = str(((new or old) or {}).get("metadata", {}).get("name"))
        affected = self.cache.remove_policy(name) if new is None else self.cache.set_policy(new)
        self._render(affected)
        if new is not None:
            self._policy_status([name])

    def _on_pool(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind == "relisted":
            return
        name = str(((new or old) or {}).get("metadata", {}).get("name"))
        if self.cache.remove_pool(name) if new is None else self.cache.set_pool(new):
            self._render_all()

    def _on_config(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind != "relisted" and self.cache.set_operator_config(new):
            self._render_all()

    def _on_config_map(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        if kind == "relisted":
            return
        obj = new or old or {}
        name = str(obj.get("metadata", {}).get("name"))
        if name == SUPPORTED_NIC_CONFIGMAP:
            if self.cache.set_supported_nics(None if new is None else new.get("data")):
                self._render_all()
        elif (node := node_of_device_plugin_configmap(obj)) is not None and (
            new is None or (old or {}).get("data") != new.get("data")
        ):
            self._render([node])


_VIEWS: weakref.WeakKeyDictionary[Manager, OperatorView] = weakref.WeakKeyDictionary()


def shared_view(manager: Manager, settings: OperatorSettings) -> OperatorView:
    """The one `OperatorView` of ``manager`` (made on first use)."""
    view = _VIEWS.get(manager)
    if view is None:
        view = _VIEWS[manager] = OperatorView(manager, settings)
    return view
