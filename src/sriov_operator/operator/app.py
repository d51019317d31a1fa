"""The operator process: its controllers on one Manager (informers, leader election, health, metrics)."""

from __future__ import annotations

from sriov_operator.operator.controllers.networks import NetworkReconciler
from sriov_operator.operator.controllers.node_states import NodeStateReconciler
from sriov_operator.operator.controllers.operator_config import OperatorConfigReconciler
from sriov_operator.operator.controllers.policy_status import PolicyStatusReconciler
from sriov_operator.operator.controllers.view import OperatorView
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.clock import SYSTEM_CLOCK, Clock
from sriov_operator.runtime.manager import Manager

COMPONENT = "sriov-fdp-operator"


def register(manager: Manager, settings: OperatorSettings, clock: Clock = SYSTEM_CLOCK) -> OperatorView:
    """Add the node-state, device-plugin, policy-status, operator-config and network controllers."""
    view = OperatorView(manager, settings)
    events = manager.events(COMPONENT)
    objects = manager.objects
    manager.add_controller(NodeStateReconciler(view, objects, events, settings, clock).controller)
    manager.add_controller(PolicyStatusReconciler(view, objects, events, settings, clock).controller)
    manager.add_controller(OperatorConfigReconciler(view, objects, events, settings, clock).controller)
    manager.add_controller(NetworkReconciler(manager, view, events, settings, clock).controller)
    return view


async def run_operator(settings: OperatorSettings, clock: Clock = SYSTEM_CLOCK) -> None:
    """Run until SIGTERM/SIGINT (the Manager stops the controllers and releases the Lease)."""
    async with Manager(settings.runtime, clock) as manager:
        register(manager, settings, clock)
        await manager.run()
