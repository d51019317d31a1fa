"""The ``default`` SriovOperatorConfig: created if missing; its Ready condition.

Key: ``default``. Creation uses ``create`` (never apply), so a config someone
else wrote is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sriov_operator.api.conditions import merged
from sriov_operator.api.constants import API_VERSION, DEFAULT_OPERATOR_CONFIG_NAME, FIELD_MANAGER, EventReason
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.api.refs import ObjectRef
from sriov_operator.kube.errors import ConflictError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import SRIOV_OPERATOR_CONFIGS
from sriov_operator.operator.controllers.policy_status import status_body
from sriov_operator.operator.controllers.view import OperatorView, Reconciler
from sriov_operator.operator.status import operator_config_condition, status_needs_write
from sriov_operator.operator.workloads.status import Rollout, with_rollouts
from sriov_operator.runtime.clock import Clock
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.events import EventRecorder


def default_operator_config(namespace: str) -> dict[str, Any]:
    """What upstream's installation creates: webhook on, injector off, drains on, all nodes' defaults."""
    return {
        "apiVersion": API_VERSION,
        "kind": SriovOperatorConfig.KIND,
        "metadata": {"name": DEFAULT_OPERATOR_CONFIG_NAME, "namespace": namespace},
        "spec": {
            "enableOperatorWebhook": True,
            "enableInjector": False,
            "logLevel": 2,
            "disableDrain": False,
        },
    }


class OperatorConfigReconciler(Reconciler):
    def __init__(
        self,
        view: OperatorView,
        objects: KubeObjects,
        events: EventRecorder,
        clock: Clock,
        *,
        rollouts: Callable[[], list[Rollout]] | None = None,
    ) -> None:
        super().__init__(view, objects, events, clock)
        self.rollouts = rollouts  # the workloads' progress; Ready waits for it
        self.controller = Controller("operator-config", self.reconcile, clock=clock)
        self.controller.watch(view.configs, lambda _obj: [DEFAULT_OPERATOR_CONFIG_NAME])
        self.controller.queue.add(DEFAULT_OPERATOR_CONFIG_NAME)

    async def reconcile(self, key: Hashable) -> Result | None:
        name = str(key)
        namespace = self.settings.namespace
        config = self.view.configs.get(name, namespace)
        if config is None:
            try:
                config = await self.objects.create(SRIOV_OPERATOR_CONFIGS, default_operator_config(namespace))
            except ConflictError:
                return Result(requeue_after=0.0)  # created meanwhile: the informer brings it
            note = "created the default SriovOperatorConfig (none existed)"
            await self.events.record(config, "Normal", EventReason.OPERATOR_CONFIG_CREATED, note, "Create")
        ref = ObjectRef(kind=SriovOperatorConfig.KIND, namespace=namespace, name=name)
        errors = [p for p in self.view.cache.problems_of(ref) if p.severity == "error"]
        mode = (config.get("spec") or {}).get("configurationMode")
        condition = operator_config_condition(errors, mode)
        if self.rollouts is not None:
            condition = with_rollouts(condition, self.rollouts())
        current = config.get("status") or {}
        generation = config["metadata"].get("generation")
        conditions = merged(current.get("conditions"), condition, self.clock.now(), generation)
        status = {"conditions": conditions}
        if status_needs_write({"conditions": current.get("conditions")}, status):
            await self.objects.apply(
                SRIOV_OPERATOR_CONFIGS, status_body(config, status), FIELD_MANAGER, subresource="status"
            )
        return None
