"""SriovNetwork, SriovIBNetwork and OVSNetwork → NetworkAttachmentDefinitions, with Ready conditions.

Key: (kind, namespace, name) of the network. NAD events map back to the network
their owner-ref annotation names and to every network that wants that NAD (a
foreign NAD going away lets the waiting network create its own); a new
namespace maps to the networks waiting for it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, cast

from sriov_operator.api.conditions import merged
from sriov_operator.api.constants import FIELD_MANAGER, NAD_FINALIZER, EventReason
from sriov_operator.api.meta import generation_of, meta_of, status_body
from sriov_operator.kube.resources import (
    NETWORK_ATTACHMENT_DEFINITIONS,
    OVS_NETWORKS,
    SRIOV_IB_NETWORKS,
    SRIOV_NETWORKS,
    Resource,
)
from sriov_operator.operator.controllers.reconciler import Reconciler
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.networks import (
    NetworkKey,
    NetworkPlan,
    nad_key,
    owner_of,
    plan_network,
)
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.operator.status import status_needs_write
from sriov_operator.runtime.builder import controller_for
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.events import EventType
from sriov_operator.runtime.informer import EventKind
from sriov_operator.runtime.manager import Manager

NETWORK_RESOURCES: dict[str, Resource] = {
    r.kind: r for r in (SRIOV_NETWORKS, SRIOV_IB_NETWORKS, OVS_NETWORKS)
}


def _key(obj: dict[str, Any]) -> NetworkKey:
    return (str(obj["kind"]), str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"]))


def _resource_name(policy: dict[str, Any] | None) -> Any:
    return ((policy or {}).get("spec") or {}).get("resourceName")


def _target(network: dict[str, Any]) -> tuple[str, str]:
    spec = network.get("spec") or {}
    return (
        str(spec.get("networkNamespace") or network["metadata"]["namespace"]),
        network["metadata"]["name"],
    )


def register(manager: Manager, settings: OperatorSettings) -> Controller:
    """Only where Multus's NetworkAttachmentDefinition CRD is served (the operator's app checks)."""
    view = shared_view(manager, settings)
    reconciler = NetworkReconciler(manager, view)
    builder = controller_for(manager).named("networks").workers(2)
    for informer in view.networks.values():
        builder.watches(informer, lambda obj: [_key(obj)])
    reconciler.controller = (
        builder.watches(view.nads, reconciler.networks_of_nad)
        .watches(view.namespaces, reconciler.networks_in_namespace)
        .complete(reconciler.reconcile)
    )
    view.policies.add_handler(reconciler.on_policy)
    return reconciler.controller


class NetworkReconciler(Reconciler):
    def __init__(self, manager: Manager, view: OperatorView) -> None:
        super().__init__(manager, view)
        self.networks = view.networks
        self.nads = view.nads
        self.namespaces = view.namespaces

    def on_policy(self, kind: EventKind, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """A policy's resourceName decides a network's "no policy provides it" warning."""
        if _resource_name(old) == _resource_name(new):
            return
        for informer in self.networks.values():
            for network in informer.list():
                self.controller.queue.add_after(_key(network), self.settings.status_delay)

    def _networks_wanting(self, target: tuple[str, str]) -> Iterable[NetworkKey]:
        for informer in self.networks.values():
            for network in informer.list():
                if _target(network) == target:
                    yield _key(network)

    def networks_of_nad(self, nad: dict[str, Any]) -> list[NetworkKey]:
        owner = owner_of(nad)
        return [*([owner] if owner else []), *self._networks_wanting(nad_key(nad))]

    def networks_in_namespace(self, namespace: dict[str, Any]) -> list[NetworkKey]:
        name = namespace["metadata"]["name"]
        return [
            _key(network)
            for informer in self.networks.values()
            for network in informer.list()
            if _target(network)[0] == name
        ]

    async def reconcile(self, hashable: Hashable) -> Result | None:
        key = cast(NetworkKey, hashable)
        kind, namespace, name = key
        network = self.networks[kind].get(name, namespace)
        owned = [nad for nad in self.nads.list() if owner_of(nad) == key]
        plan = plan_network(
            key,
            network,
            owned=owned,
            nads={nad_key(nad): nad for nad in self.nads.list()},
            namespaces={ns["metadata"]["name"] for ns in self.namespaces.list()},
            operator_namespace=self.settings.namespace,
            resource_prefix=self.settings.resource_prefix,
            provided_resources=self.view.cache.resource_names(),
        )
        await self._execute(key, network, plan)
        return None

    async def _execute(self, key: NetworkKey, network: dict[str, Any] | None, plan: NetworkPlan) -> None:
        resource = NETWORK_RESOURCES[key[0]]
        if network is not None and plan.finalizer == "add":
            await self._set_finalizers(
                resource, network, [*(meta_of(network).get("finalizers") or []), NAD_FINALIZER]
            )
        for nad_namespace, nad_name in plan.delete:
            await self.objects.delete(NETWORK_ATTACHMENT_DEFINITIONS, nad_name, nad_namespace)
        if plan.write is not None:
            await self.objects.apply(NETWORK_ATTACHMENT_DEFINITIONS, plan.write, FIELD_MANAGER)
        if network is not None and plan.finalizer == "remove":
            remaining = [f for f in meta_of(network).get("finalizers") or [] if f != NAD_FINALIZER]
            await self._set_finalizers(resource, network, remaining)
        if network is None or plan.condition is None:
            return
        current = network.get("status") or {}
        generation = generation_of(network)
        status = {
            "conditions": merged(current.get("conditions"), plan.condition, self.clock.now(), generation)
        }
        if status_needs_write({"conditions": current.get("conditions")}, status):
            await self.objects.apply(
                resource, status_body(network, status), FIELD_MANAGER, subresource="status"
            )
            level: EventType = "Normal" if plan.condition.status == "True" else "Warning"
            reason = EventReason(plan.condition.reason)  # the condition reasons are Event reasons too
            await self.events.record(network, level, reason, plan.condition.message, "Reconcile")

    async def _set_finalizers(
        self, resource: Resource, network: dict[str, Any], finalizers: list[str]
    ) -> None:
        """A merge patch guarded by resourceVersion: a concurrent change makes it fail and retry."""
        metadata = network["metadata"]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata["resourceVersion"]}}
        await self.objects.patch(resource, metadata["name"], patch, namespace=metadata["namespace"])
