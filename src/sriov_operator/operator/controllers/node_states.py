"""One SriovNetworkNodeState per managed node; states of vanished nodes removed after a grace delay.

Key: the node name. A reconcile renders that one node from the shared engine
view and server-side applies the NodeState spec only when it differs from the
cached one. The node's device-plugin ConfigMap and label follow in their own
controller (``device_plugin.py``): specs reach the config daemons first, and the
device-plugin config is only handed over once a node is configured anyway.
A NodeState whose Node is gone (or no longer managed) is deleted, with its
ConfigMap, after ``--node-state-grace`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from sriov_operator.api.constants import FIELD_MANAGER, EventReason
from sriov_operator.api.meta import generation_of
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.api.refs import ref
from sriov_operator.kube.resources import CONFIG_MAPS, NODES, SRIOV_NETWORK_NODE_STATES
from sriov_operator.operator.controllers.reconciler import Reconciler, node_keyed_controller
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.node_objects import (
    device_plugin_label_patch,
    node_state_body,
    node_state_needs_write,
    orphan_deletion_delay,
)
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.manager import Manager

logger = logging.getLogger(__name__)


def register(manager: Manager, settings: OperatorSettings) -> Controller:
    view = shared_view(manager, settings)
    reconciler = NodeStateReconciler(manager, view)
    reconciler.controller = node_keyed_controller(manager, view, "node-states", reconciler.reconcile)
    view.spec_queue = reconciler.controller.queue  # the device-plugin controller lets it go first
    return reconciler.controller


class NodeStateReconciler(Reconciler):
    def __init__(self, manager: Manager, view: OperatorView) -> None:
        super().__init__(manager, view)
        self.missing_since: dict[str, float] = {}

    async def reconcile(self, key: Hashable) -> Result | None:
        name = str(key)
        namespace = self.settings.namespace
        node = self.view.nodes.get(name)
        state = self.view.states.get(name, namespace)
        rendered = self.view.cache.render(name) if node is not None else None
        if rendered is None:
            return await self._retire(name, node, state)
        self.missing_since.pop(name, None)
        if node_state_needs_write(state, rendered.spec):
            written = await self.objects.apply(
                SRIOV_NETWORK_NODE_STATES, node_state_body(name, namespace, rendered.spec), FIELD_MANAGER
            )
            logger.info(
                "spec written (generation %s)",
                generation_of(written),
                extra={"object": ref(written)},
            )
        return None

    async def _retire(
        self, name: str, node: dict[str, Any] | None, state: dict[str, Any] | None
    ) -> Result | None:
        """The node is gone or not managed: take the label off now, the objects after the grace delay."""
        namespace = self.settings.namespace
        config_map = self.view.config_maps.get(device_plugin_configmap_name(name), namespace)
        patch = device_plugin_label_patch(node, False) if node is not None else None
        if patch is not None:
            await self.objects.patch(NODES, name, patch)
        if state is None and config_map is None:
            self.missing_since.pop(name, None)
            return None
        now = self.clock.monotonic()
        delay = orphan_deletion_delay(
            self.missing_since.setdefault(name, now), now, self.settings.node_state_grace
        )
        if delay > 0:
            return Result(requeue_after=delay)
        if config_map is not None:
            await self.objects.delete(CONFIG_MAPS, config_map["metadata"]["name"], namespace)
        if state is not None:
            await self.objects.delete(SRIOV_NETWORK_NODE_STATES, name, namespace)
            why = "is gone" if node is None else "is no longer selected by configDaemonNodeSelector"
            note = f"Node {name} {why}; its NodeState and device-plugin config were deleted"
            await self.events.record(state, "Normal", EventReason.NODE_STATE_DELETED, note, "Delete")
        self.missing_since.pop(name, None)
        return None
