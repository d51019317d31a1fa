"""The operator process: its controllers on one Manager (informers, leader election, health, metrics)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sriov_operator.api.constants import DEFAULT_OPERATOR_CONFIG_NAME
from sriov_operator.operator import drain, workloads
from sriov_operator.operator.controllers.networks import NetworkReconciler
from sriov_operator.operator.controllers.node_states import NodeStateReconciler
from sriov_operator.operator.controllers.operator_config import OperatorConfigReconciler
from sriov_operator.operator.controllers.policy_status import PolicyStatusReconciler
from sriov_operator.operator.controllers.view import OperatorView
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager

COMPONENT = "sriov-fdp-operator"


@dataclass(frozen=True)
class OperatorControllers:
    view: OperatorView
    controllers: tuple[Controller, ...]

    def idle(self) -> bool:
        """No key waiting in any queue (tests and the benchmark wait for this)."""
        return all(len(controller.queue) == 0 for controller in self.controllers)


def register(
    manager: Manager, settings: OperatorSettings, clock: Clock = SYSTEM_CLOCK
) -> OperatorControllers:
    """Add the node-state, device-plugin, policy-status, operator-config, network, drain and
    workloads controllers."""
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
    config = OperatorConfigReconciler(
        view, objects, events, settings, clock, rollouts=workloads_reconciler.rollouts
    )
    for rollouts in (workloads_reconciler.daemon_sets, workloads_reconciler.deployments):
        config.controller.watch(rollouts, lambda _obj: [DEFAULT_OPERATOR_CONFIG_NAME])
    controllers = (
        NodeStateReconciler(view, objects, events, settings, clock).controller,
        PolicyStatusReconciler(view, objects, events, settings, clock).controller,
        config.controller,
        NetworkReconciler(manager, view, events, settings, clock).controller,
    )
    for controller in controllers:
        manager.add_controller(controller)
    return OperatorControllers(view, (*controllers, drain_controller, workloads_controller))


async def run_operator(settings: OperatorSettings, clock: Clock = SYSTEM_CLOCK) -> None:
    """Run until SIGTERM/SIGINT (the Manager stops the controllers and releases the Lease)."""
    async with Manager(settings.runtime, clock) as manager:
        register(manager, settings, clock)
        await manager.run()
