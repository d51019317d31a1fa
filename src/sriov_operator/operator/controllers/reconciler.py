"""What every operator reconciler works with: the shared view, the API, the Event recorder, the clock;
and the controller of those keyed by node."""

from __future__ import annotations

from sriov_operator.operator.controllers.view import OperatorView
from sriov_operator.runtime.builder import controller_for
from sriov_operator.runtime.controller import Controller, Reconcile
from sriov_operator.runtime.manager import Manager


class Reconciler:
    controller: Controller  # set by the module's ``register`` (the builder's result)

    def __init__(self, manager: Manager, view: OperatorView) -> None:
        self.view = view
        self.objects = manager.objects
        self.events = view.events
        self.clock = manager.clock
        self.settings = view.settings


def node_keyed_controller(
    manager: Manager, view: OperatorView, name: str, reconcile: Reconcile
) -> Controller:
    """A controller keyed by node name, fed the nodes the view says to re-render, with ``--workers``
    workers (the node-states and device-plugin controllers)."""
    return (
        controller_for(manager)
        .named(name)
        .workers(view.settings.workers)
        .fed_by(view.listeners.nodes.append)
        .complete(reconcile)
    )
