"""What every operator reconciler works with: the shared view, the API, the Event recorder, the clock."""

from __future__ import annotations

from sriov_operator.operator.controllers.view import OperatorView
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager


class Reconciler:
    controller: Controller  # set by the module's ``register`` (the builder's result)

    def __init__(self, manager: Manager, view: OperatorView) -> None:
        self.view = view
        self.objects = manager.objects
        self.events = view.events
        self.clock = manager.clock
        self.settings = view.settings
