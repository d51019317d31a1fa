"""The drain controller: cordon and evict for the config daemons, pool by pool, with a deadline.

``register(manager, settings)`` adds it to an operator's `Manager`; see docs/drain.md.
"""

from __future__ import annotations

from typing import Any

from sriov_operator.api.constants import NODE_STATE_CURRENT_ANNOTATION
from sriov_operator.api.meta import annotations_of, labels_of
from sriov_operator.kube.resources import (
    NODES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORK_POOL_CONFIGS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.operator.drain.controller import DrainCaches, DrainReconciler
from sriov_operator.operator.drain.pools import DRAINED_STATES
from sriov_operator.operator.drain.settings import DrainSettings
from sriov_operator.runtime.builder import by_name, controller_for
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.decoding import NODE_DECODER, NODE_STATE_DECODER
from sriov_operator.runtime.informer import EventKind
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import slim_node, slim_node_state, strip_managed_fields

CONTROLLER_NAME = "drain"


WORKERS = 4


def register(manager: Manager, settings: DrainSettings) -> Controller:
    """Create the drain controller's informers and controller on ``manager``."""
    namespace = settings.namespace
    caches = DrainCaches(
        nodes=manager.informer(NODES, transform=slim_node, decoder=NODE_DECODER),
        node_states=manager.informer(
            SRIOV_NETWORK_NODE_STATES,
            namespace=namespace,
            transform=slim_node_state,
            decoder=NODE_STATE_DECODER,
        ),
        pools=manager.informer(
            SRIOV_NETWORK_POOL_CONFIGS, namespace=namespace, transform=strip_managed_fields
        ),
        configs=manager.informer(SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields),
    )
    reconciler = DrainReconciler(
        manager.objects, caches, manager.events("sriov-drain-controller"), settings, manager.clock
    )

    def active(_: dict[str, Any]) -> list[str]:
        return reconciler.active_nodes()

    controller = (
        controller_for(manager)
        .named(CONTROLLER_NAME)
        .workers(WORKERS)
        .watches(caches.nodes, by_name)
        .watches(caches.node_states, by_name)
        .watches(caches.pools, active)
        .watches(caches.configs, active)
        .complete(reconciler.reconcile)
    )

    def labels_or_members_changed(
        kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        if kind != "modified" or labels_of(old) != labels_of(new):
            reconciler.invalidate_pools()

    caches.nodes.add_handler(labels_or_members_changed)

    def managed_nodes_changed(
        kind: EventKind, _old: dict[str, Any] | None, _new: dict[str, Any] | None
    ) -> None:
        if kind != "modified":
            reconciler.invalidate_pools()

    def pools_changed(_kind: EventKind, _old: dict[str, Any] | None, _new: dict[str, Any] | None) -> None:
        reconciler.invalidate_pools()

    caches.node_states.add_handler(managed_nodes_changed)
    caches.pools.add_handler(pools_changed)

    def slot_freed(kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        before = annotations_of(old).get(NODE_STATE_CURRENT_ANNOTATION)
        after = annotations_of(new).get(NODE_STATE_CURRENT_ANNOTATION)
        if before in DRAINED_STATES and after not in DRAINED_STATES:
            pool = reconciler.pool_of((old or new or {})["metadata"]["name"])
            for name in reconciler.wake_candidates(pool) if pool is not None else []:
                controller.queue.add(name)

    caches.node_states.add_handler(slot_freed)
    return controller
