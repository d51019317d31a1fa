"""The webhook's view of the cluster: informer caches of what the rules read.

Nodes; in the operator namespace the NodeStates, policies, pools, the operator
config and the ``supported-nic-ids`` ConfigMap; the three network kinds in every
namespace.  Nodes and NodeStates are slimmed to what the rules read (no images,
no per-VF lists: the VF list is most of a busy node's status and most of its
parsing cost).  NetworkAttachmentDefinitions come from an informer too, slimmed
to their name and resourceName annotation.  A NAD created just before its pod may
not have reached the informer yet (the watch delivers it milliseconds later, while
the pod's review is already under way), so a NAD missing from the cache is looked up
with one GET: its namespace and name checked first (`api.names`: nothing else reaches
a request path), at most ``NAD_LOOKUPS_AT_ONCE`` GETs in flight across all reviews
and each within ``NAD_LOOKUP_TIMEOUT``; a pod names at most 32 networks.  A lookup
that fails is a denial saying so (`NadLookupError`), never a guess.  Without
Multus's NAD CRD at start there is no NAD informer (every named network is "not
found"); a restart after installing the CRD adds it.  What the engine read of each cached
object is kept across reviews (`ParsedObjects`), dropped when the informer reports
the object changed or deleted; the Nodes and NodeStates are kept in classes of alike
ones as well (`FleetIndex`), so a policy review renders one node per class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from sriov_operator.api.constants import NAD_RESOURCE_NAME_ANNOTATION, SUPPORTED_NIC_CONFIGMAP
from sriov_operator.api.names import is_dns1123_label, is_dns1123_subdomain
from sriov_operator.kube.errors import KubeApiError
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
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
from sriov_operator.runtime.informer import EventKind, Handler, Informer
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import slim_node, slim_node_state, strip_managed_fields
from sriov_operator.webhook.admission import ClusterSnapshot
from sriov_operator.webhook.fleet import FleetIndex
from sriov_operator.webhook.injector import NadKey, NadLookupError
from sriov_operator.webhook.parsed import ParsedObjects

NAD_LOOKUP_TIMEOUT = 2.0  # seconds for one GET of a NAD the informer has not delivered yet
NAD_LOOKUPS_AT_ONCE = 8  # such GETs in flight at once, across all reviews


def slim_nad(nad: dict[str, Any]) -> dict[str, Any]:
    """A NAD with what the injector reads: its identity and the resourceName annotation."""
    metadata = nad.get("metadata") or {}
    kept = {key: metadata[key] for key in ("name", "namespace", "resourceVersion") if key in metadata}
    resource = (metadata.get("annotations") or {}).get(NAD_RESOURCE_NAME_ANNOTATION)
    if resource is not None:
        kept["annotations"] = {NAD_RESOURCE_NAME_ANNOTATION: resource}
    return {"metadata": kept}


class InformerSource:
    """A `ClusterSource` over the manager's shared informers (register before ``manager.run()``).

    ``nads``: keep a NetworkAttachmentDefinition informer (False when the CRD is not served).
    """

    def __init__(self, manager: Manager, namespace: str, *, nads: bool = True) -> None:
        self.namespace = namespace

        def cached(resource: Any, **options: Any) -> Informer:
            return manager.informer(resource, transform=strip_managed_fields, **options)

        self.nodes = manager.informer(NODES, transform=slim_node)
        self.node_states = manager.informer(
            SRIOV_NETWORK_NODE_STATES,
            namespace=namespace,
            transform=slim_node_state,  # no per-VF lists
        )
        self.policies = cached(SRIOV_NETWORK_NODE_POLICIES, namespace=namespace)
        self.pools = cached(SRIOV_NETWORK_POOL_CONFIGS, namespace=namespace)
        self.operator_configs = cached(SRIOV_OPERATOR_CONFIGS, namespace=namespace)
        self.networks = [cached(kind) for kind in (SRIOV_NETWORKS, SRIOV_IB_NETWORKS, OVS_NETWORKS)]
        self.supported_nics = cached(
            CONFIG_MAPS, namespace=namespace, field_selector=f"metadata.name={SUPPORTED_NIC_CONFIGMAP}"
        )
        self.nads = manager.informer(NETWORK_ATTACHMENT_DEFINITIONS, transform=slim_nad) if nads else None
        self.objects = manager.objects
        self._nad_lookups = asyncio.Semaphore(NAD_LOOKUPS_AT_ONCE)
        self.parsed = ParsedObjects()
        for informer in self.informers:
            informer.add_handler(self._forgetter(informer.resource.kind))
        self.fleet = FleetIndex(self.parsed, namespace)
        self.nodes.add_handler(self._feeder(self.fleet.set_node, self.fleet.drop_node))
        self.node_states.add_handler(self._feeder(self.fleet.set_state, self.fleet.drop_state))

    def _forgetter(self, kind: str) -> Handler:
        def forget(event: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
            if event in ("modified", "deleted") and old is not None:
                self.parsed.forget(kind, old)

        return forget

    @staticmethod
    def _feeder(put: Callable[[dict[str, Any]], None], drop: Callable[[str], None]) -> Handler:
        def feed(event: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
            if new is not None:
                put(new)
            elif event == "deleted" and old is not None:
                drop(str((old.get("metadata") or {}).get("name") or ""))

        return feed

    @property
    def informers(self) -> list[Informer]:
        return [
            self.nodes,
            self.node_states,
            self.policies,
            self.pools,
            self.operator_configs,
            *self.networks,
            self.supported_nics,
            *([self.nads] if self.nads is not None else []),
        ]

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot(
            nodes=self.nodes.list(),
            node_states=self.node_states.list(),
            policies=self.policies.list(),
            pools=self.pools.list(),
            operator_configs=self.operator_configs.list(),
            networks=[
                {**network, "kind": informer.resource.kind}
                for informer in self.networks
                for network in informer.list()
            ],
            supported_nics=self.supported_nics.get(SUPPORTED_NIC_CONFIGMAP, self.namespace),
            parsed=self.parsed,
            fleet=self.fleet,
        )

    async def network_attachment_definitions(
        self, keys: Iterable[NadKey]
    ) -> dict[NadKey, dict[str, Any] | None]:
        """The NADs named, from the cache, or (missing there) by GET; None: not found."""
        cache = self.nads
        if cache is None:
            return {key: None for key in keys}
        found = {(ns, name): cache.get(name, ns) for ns, name in keys}
        missing = [key for key, nad in found.items() if nad is None]
        found.update(zip(missing, await asyncio.gather(*map(self._look_up, missing)), strict=True))
        return found

    async def _look_up(self, key: NadKey) -> dict[str, Any] | None:
        namespace, name = key
        if not is_dns1123_label(namespace) or not is_dns1123_subdomain(name):
            return None  # no such NAD can exist; never part of a request path
        try:
            async with asyncio.timeout(NAD_LOOKUP_TIMEOUT), self._nad_lookups:
                nad = await self.objects.get(NETWORK_ATTACHMENT_DEFINITIONS, name, namespace)
        except (TimeoutError, KubeApiError) as exc:
            reason = str(exc) or f"no answer within {NAD_LOOKUP_TIMEOUT:g} s"
            raise NadLookupError(
                f"NetworkAttachmentDefinition {namespace}/{name} is not in the webhook's cache yet and "
                f"looking it up failed ({reason}); retry"
            ) from exc
        return slim_nad(nad) if nad is not None else None
