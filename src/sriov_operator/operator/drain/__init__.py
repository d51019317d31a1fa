"""The drain controller: cordon and evict for the config daemons, pool by pool, with a deadline.

``register(manager, settings)`` adds it to an operator's `Manager`; see docs/drain.md.
"""

from __future__ import annotations

from typing import Any

from sriov_operator.api.constants import NODE_STATE_CURRENT_ANNOTATION
from sriov_operator.kube.resources import (
    NODES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORK_POOL_CONFIGS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.operator.drain.bookkeeping import annotations_of
from sriov_operator.operator.drain.controller import DrainCaches, DrainReconciler
from sriov_operator.operator.drain.settings import DrainSettings
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.informer import EventKind
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import slim_node, strip_managed_fields

CONTROLLER_NAME = "drain"
WORKERS = 4


def register(manager: Manager, settings: DrainSettings) -> DrainReconciler:
    """Create the drain controller's informers and controller on ``manager``."""
    namespace = settings.namespace
    caches = DrainCaches(
        nodes=manager.informer(NODES, transform=slim_node),
        node_states=manager.informer(
            SRIOV_NETWORK_NODE_STATES, namespace=namespace, transform=strip_managed_fields
        ),
        pools=manager.informer(
            SRIOV_NETWORK_POOL_CONFIGS, namespace=namespace, transform=strip_managed_fields
        ),
        configs=manager.informer(SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields),
    )
    reconciler = DrainReconciler(
        manager.objects, caches, manager.events("sriov-drain-controller"), settings, manager.clock
    )
    controller = Controller(CONTROLLER_NAME, reconciler.reconcile, workers=WORKERS, clock=manager.clock)

    def by_name(obj: dict[str, Any]) -> list[str]:
        return [obj["metadata"]["name"]]

    def active(_: dict[str, Any]) -> list[str]:
        return reconciler.active_nodes()

    controller.watch(caches.nodes, by_name)
    controller.watch(caches.node_states, by_name)
    controller.watch(caches.pools, active)
    controller.watch(caches.configs, active)

    def slot_freed(kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        before = annotations_of(old).get(NODE_STATE_CURRENT_ANNOTATION)
        after = annotations_of(new).get(NODE_STATE_CURRENT_ANNOTATION)
        if before != after:
            for name in reconciler.waiting_nodes():
                controller.queue.add(name)

    caches.node_states.add_handler(slot_freed)
    manager.add_controller(controller)
    return reconciler
