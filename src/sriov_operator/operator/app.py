"""The operator process: its controllers on one Manager (informers, leader election, health, metrics)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sriov_operator.api.crds import all_crds
from sriov_operator.kube.objects import KubeObjects, served
from sriov_operator.kube.resources import NETWORK_ATTACHMENT_DEFINITIONS
from sriov_operator.kube.session import api_session
from sriov_operator.operator import drain, workloads
from sriov_operator.operator.controllers import (
    device_plugin,
    networks,
    node_states,
    operator_config,
    policy_status,
)
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.crd_upgrade import upgrade_crds
from sriov_operator.operator.settings import OperatorSettings, drain_settings, workloads_settings
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatorControllers:
    view: OperatorView
    controllers: tuple[Controller, ...]

    def idle(self) -> bool:
        """No key waiting in any queue (tests and the benchmark wait for this)."""
        return all(len(controller.queue) == 0 for controller in self.controllers)


async def register(manager: Manager, settings: OperatorSettings) -> OperatorControllers:
    """Add the operator's controllers, each through its module's ``register(manager, settings)``.

    Without Multus's NetworkAttachmentDefinition CRD the network controller is
    left out (its cache could never sync, which would hold every controller
    back); a warning says so, and a restart after installing the CRD adds it.
    """
    controllers = [
        drain.register(manager, drain_settings(settings)),
        workloads.register(manager, workloads_settings(settings)),
        node_states.register(manager, settings),
        device_plugin.register(manager, settings),  # after node-states: it lets the specs go first
        policy_status.register(manager, settings),
        operator_config.register(manager, settings),
    ]
    if await served(manager.objects, NETWORK_ATTACHMENT_DEFINITIONS):
        controllers.append(networks.register(manager, settings))
    else:
        logger.warning(
            "the NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1) is not installed: networks are not "
            "turned into NADs; install Multus (or deploy/multus/) and restart the operator"
        )
    return OperatorControllers(shared_view(manager, settings), tuple(controllers))


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
        await register(manager, settings)
        for add in also_register:
            add(manager)
        await manager.run()
