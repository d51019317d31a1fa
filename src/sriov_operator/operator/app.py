"""The operator process: its controllers on one Manager (informers, leader election, health, metrics)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sriov_operator.api.constants import DEFAULT_OPERATOR_CONFIG_NAME
from sriov_operator.api.crds import all_crds
from sriov_operator.kube.objects import KubeObjects, served
from sriov_operator.kube.resources import NETWORK_ATTACHMENT_DEFINITIONS
from sriov_operator.kube.session import api_session
from sriov_operator.operator import drain, workloads
from sriov_operator.operator.controllers.device_plugin import DevicePluginReconciler
from sriov_operator.operator.controllers.networks import NetworkReconciler
from sriov_operator.operator.controllers.node_states import NodeStateReconciler
from sriov_operator.operator.controllers.operator_config import OperatorConfigReconciler
from sriov_operator.operator.controllers.policy_status import PolicyStatusReconciler
from sriov_operator.operator.controllers.view import OperatorView
from sriov_operator.operator.crd_upgrade import upgrade_crds
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager

logger = logging.getLogger(__name__)
COMPONENT = "sriov-fdp-operator"


@dataclass(frozen=True)
class OperatorControllers:
    view: OperatorView
    controllers: tuple[Controller, ...]

    def idle(self) -> bool:
        """No key waiting in any queue (tests and the benchmark wait for this)."""
        return all(len(controller.queue) == 0 for controller in self.controllers)


async def register(
    manager: Manager, settings: OperatorSettings, clock: Clock = SYSTEM_CLOCK
) -> OperatorControllers:
    """Add the node-state, device-plugin, policy-status, operator-config, network, drain and
    workloads controllers.

    Without Multus's NetworkAttachmentDefinition CRD the network controller is
    left out (its cache could never sync, which would hold every controller
    back); a warning says so, and a restart after installing the CRD adds it.
    """
    view = OperatorView(manager, settings)
    events = manager.events(COMPONENT)
    objects = manager.objects
    namespace, prefix = settings.namespace, settings.resource_prefix
    _, drain_controller = drain.register(
        manager, replace(settings.drain, namespace=namespace, resource_prefix=prefix)
    )
    workloads_reconciler, workloads_controller = workloads.register(
        manager, replace(settings.workloads, namespace=namespace, resource_prefix=prefix)
    )
    config = OperatorConfigReconciler(view, objects, events, clock, rollouts=workloads_reconciler.rollouts)
    for rollouts in (workloads_reconciler.daemon_sets, workloads_reconciler.deployments):
        config.controller.watch(rollouts, lambda _obj: [DEFAULT_OPERATOR_CONFIG_NAME])
    node_states = NodeStateReconciler(view, objects, events, clock).controller
    controllers = [
        node_states,
        DevicePluginReconciler(view, objects, events, clock, node_states.queue.len).controller,
        PolicyStatusReconciler(view, objects, events, clock).controller,
        config.controller,
    ]
    if await served(objects, NETWORK_ATTACHMENT_DEFINITIONS):
        controllers.append(NetworkReconciler(manager, view, events, clock).controller)
    else:
        logger.warning(
            "the NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1) is not installed: networks are not "
            "turned into NADs; install Multus (or deploy/multus/) and restart the operator"
        )
    for controller in controllers:
        manager.add_controller(controller)
    return OperatorControllers(view, (*controllers, drain_controller, workloads_controller))


async def run_operator(
    settings: OperatorSettings,
    clock: Clock = SYSTEM_CLOCK,
    *,
    also_register: Sequence[Callable[[Manager], object]] = (),
) -> None:
    """Run until SIGTERM/SIGINT (the Manager stops the controllers and releases the Lease).

    First, unless turned off, apply this version's CRDs where the cluster's differ
    (crd_upgrade.py), so no informer starts against an older schema.

    ``also_register``: controllers of other packages the operator process runs (the
    webhook's certificates and configurations); the command wires them, so the
    process packages stay independent of each other.
    """
    if settings.apply_crds:
        async with api_session(settings.runtime.kubeconfig, settings.runtime.in_cluster_server) as api:
            await upgrade_crds(KubeObjects(api), all_crds(), clock)
    async with Manager(settings.runtime, clock) as manager:
        await register(manager, settings, clock)
        for add in also_register:
            add(manager)
        await manager.run()
