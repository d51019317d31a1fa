"""Each managed node's device-plugin ConfigMap and the Node's device-plugin label.

Key: the node name. The ConfigMap is stamped with the generation of the
NodeState spec it goes with, so it is written only once the cached NodeState
carries the spec rendered now (the NodeState's own event brings the key back
when it does); a stale stamp could let the config daemon hand over a config
before its devices exist. Label: ``Enabled`` where the node has resources,
removed where it has none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from sriov_operator.api.constants import FIELD_MANAGER
from sriov_operator.api.meta import generation_of
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.kube.objects import Object
from sriov_operator.kube.resources import CONFIG_MAPS, NODES
from sriov_operator.operator.controllers.reconciler import Reconciler, node_keyed_controller
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.node_objects import (
    WritesInFlight,
    configmap_needs_write,
    device_plugin_configmap,
    device_plugin_label_patch,
    node_state_needs_write,
)
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.informer import EventKind
from sriov_operator.runtime.manager import Manager

BESIDE_SPECS = 2  # reconciles writing at once while nodes still wait for their spec
MAX_BACKLOG_WAIT = 10.0  # seconds one key gives the spec backlog before it goes anyway


def register(manager: Manager, settings: OperatorSettings) -> Controller:
    """Register after the node-states controller: its queue is the spec backlog waited on."""
    view = shared_view(manager, settings)
    reconciler = DevicePluginReconciler(manager, view)
    reconciler.controller = node_keyed_controller(manager, view, "device-plugin", reconciler.reconcile)
    return reconciler.controller


class DevicePluginReconciler(Reconciler):
    """While nodes wait for their spec (keys ready in the node-states queue), each reconcile here
    first waits for that queue to empty (at most ``MAX_BACKLOG_WAIT``), then, if it still has not,
    writes with at most ``BESIDE_SPECS`` others: a policy change reaches the config daemons before
    the device-plugin configs, which are only handed over after the daemons configured the nodes.
    Once the specs are written, as many reconciles write at once as the node-states controller has
    workers (``--workers``): the ConfigMaps and labels that follow a policy change take the API
    server's rate, not two requests' at a time."""

    def __init__(self, manager: Manager, view: OperatorView) -> None:
        super().__init__(manager, view)
        self._beside_specs = asyncio.Semaphore(BESIDE_SPECS)
        self._in_flight = WritesInFlight()
        view.config_maps.add_handler(self._seen)
        view.nodes.add_handler(self._seen)

    def _seen(self, kind: EventKind, old: Object | None, new: Object | None) -> None:
        obj = new if new is not None else old
        if obj is not None:
            self._in_flight.seen(obj["kind"], obj["metadata"]["name"])

    async def reconcile(self, key: Hashable) -> Result | None:
        queue = self.view.spec_queue
        if queue is None or await queue.wait_empty(MAX_BACKLOG_WAIT):
            await self._write(str(key))
        else:
            async with self._beside_specs:
                await self._write(str(key))
        return None

    async def _write(self, name: str) -> None:
        namespace = self.settings.namespace
        node = self.view.nodes.get(name)
        state = self.view.states.get(name, namespace)
        rendered = self.view.cache.render(name) if node is not None else None
        if node is None or rendered is None or state is None or node_state_needs_write(state, rendered.spec):
            return  # not managed (node-states retires it), or its spec is not written yet
        config_map = self.view.config_maps.get(device_plugin_configmap_name(name), namespace)
        if (config_map is not None or rendered.resources) and configmap_needs_write(
            config_map, rendered.resources
        ):
            generation = generation_of(state) or 0
            body = device_plugin_configmap(name, namespace, rendered.resources, generation)
            config_map_name = body["metadata"]["name"]
            if not self._in_flight.in_flight(CONFIG_MAPS.kind, config_map_name, body):
                await self.objects.apply(CONFIG_MAPS, body, FIELD_MANAGER)
                self._in_flight.sent(CONFIG_MAPS.kind, config_map_name, body)
        patch = device_plugin_label_patch(node, bool(rendered.resources))
        if patch is not None and not self._in_flight.in_flight(NODES.kind, name, patch):
            await self.objects.patch(NODES, name, patch)
            self._in_flight.sent(NODES.kind, name, patch)
