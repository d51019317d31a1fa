"""The config daemon process: node daemons on one Manager, fed by informers on their own objects.

A daemon in a DaemonSet configures one node and watches only that node's
NodeState, Node and device-plugin ConfigMap (field selectors): nothing grows
with the cluster.  Several node daemons may share one process (the simulated
fleet of the benchmark); they then share one informer, so one watch
connection, per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sriov_operator.api.constants import DEVICE_PLUGIN_CONFIG_FOR_LABEL
from sriov_operator.api.meta import name_of
from sriov_operator.api.names import device_plugin_configmap_name, node_of_device_plugin_configmap
from sriov_operator.daemon.node_daemon import NodeCaches, NodeDaemon
from sriov_operator.daemon.settings import DaemonSettings
from sriov_operator.host.node import NodeHost
from sriov_operator.kube.resources import CONFIG_MAPS, NODES, SRIOV_NETWORK_NODE_STATES
from sriov_operator.runtime.builder import controller_for
from sriov_operator.runtime.controller import Result
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import slim_node, strip_managed_fields

COMPONENT = "sriov-fdp-config-daemon"
MAX_WORKERS = 16


def _by_name(name: str | None) -> str | None:
    return f"metadata.name={name}" if name else None


def node_caches(manager: Manager, namespace: str, only: str | None) -> NodeCaches:
    """Informers for one node's objects (``only``), or shared ones for all nodes of the process."""
    return NodeCaches(
        node_states=manager.informer(
            SRIOV_NETWORK_NODE_STATES,
            namespace=namespace,
            field_selector=_by_name(only),
            transform=strip_managed_fields,
        ),
        nodes=manager.informer(NODES, field_selector=_by_name(only), transform=slim_node),
        config_maps=manager.informer(
            CONFIG_MAPS,
            namespace=namespace,
            field_selector=_by_name(device_plugin_configmap_name(only) if only else None),
            label_selector=None if only else DEVICE_PLUGIN_CONFIG_FOR_LABEL,
            transform=strip_managed_fields,
        ),
    )


def register_daemons(
    manager: Manager, namespace: str, hosts: Mapping[str, NodeHost], rediscover_seconds: float
) -> dict[str, NodeDaemon]:
    """One NodeDaemon per host, one controller keyed by node name, resynced to rediscover NICs."""
    only = next(iter(hosts)) if len(hosts) == 1 else None
    caches = node_caches(manager, namespace, only)
    events = manager.events(COMPONENT)
    daemons = {
        name: NodeDaemon(
            name,
            namespace,
            host=host,
            caches=caches,
            objects=manager.objects,
            events=events,
            clock=manager.clock,
        )
        for name, host in hosts.items()
    }

    async def reconcile(key: Any) -> Result | None:
        return await daemons[str(key)].sync()

    def ours(*names: str) -> Iterable[str]:
        return [name for name in names if name in daemons]

    def by_name(obj: dict[str, Any]) -> Iterable[str]:
        return ours(name_of(obj))

    def by_configmap(obj: dict[str, Any]) -> Iterable[str]:
        node = node_of_device_plugin_configmap(obj)
        return ours(node) if node is not None else ()

    (
        controller_for(manager)
        .named("config-daemon")
        .workers(min(len(daemons), MAX_WORKERS))
        .resync_every(rediscover_seconds)
        .watches(caches.node_states, by_name)
        .watches(caches.nodes, by_name)
        .watches(caches.config_maps, by_configmap)
        .complete(reconcile)
    )
    return daemons


async def run_daemon(settings: DaemonSettings, host: NodeHost) -> None:
    """Run until SIGTERM/SIGINT; an unreachable API server is retried, never fatal."""
    async with Manager(settings.runtime) as manager:
        register_daemons(
            manager, settings.runtime.namespace, {settings.node_name: host}, settings.rediscover_seconds
        )
        await manager.run()
