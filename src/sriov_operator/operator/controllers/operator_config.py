"""The ``default`` SriovOperatorConfig: created if missing; its Ready condition.

Key: ``default``. Creation uses ``create`` (never apply), so a config someone
else wrote is never overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

from sriov_operator.api.conditions import merged
from sriov_operator.api.constants import API_VERSION, DEFAULT_OPERATOR_CONFIG_NAME, FIELD_MANAGER, EventReason
from sriov_operator.api.meta import generation_of, status_body
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.api.refs import ObjectRef
from sriov_operator.kube.errors import ConflictError
from sriov_operator.kube.resources import SRIOV_OPERATOR_CONFIGS
from sriov_operator.operator import workloads
from sriov_operator.operator.controllers.reconciler import Reconciler
from sriov_operator.operator.controllers.view import OperatorView, shared_view
from sriov_operator.operator.settings import OperatorSettings, workloads_settings
from sriov_operator.operator.status import operator_config_condition, status_needs_write
from sriov_operator.operator.workloads.render import operator_log_level
from sriov_operator.operator.workloads.status import Rollout, component_states, with_rollouts
from sriov_operator.runtime.builder import always, controller_for
from sriov_operator.runtime.controller import Controller, Result
from sriov_operator.runtime.logging import set_level
from sriov_operator.runtime.manager import Manager

logger = logging.getLogger(__name__)


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


def register(manager: Manager, settings: OperatorSettings) -> Controller:
    """Ready waits for the workloads to roll out: their DaemonSets and Deployments are watched too
    (the workloads controller's shared informers)."""
    view = shared_view(manager, settings)
    workload_caches = workloads.caches(manager, workloads_settings(settings))
    reconciler = OperatorConfigReconciler(manager, view, rollouts=workload_caches.rollouts)
    the_config = always(DEFAULT_OPERATOR_CONFIG_NAME)
    reconciler.controller = (
        controller_for(manager)
        .named("operator-config")
        .watches(view.configs, the_config)
        .watches(workload_caches.daemon_sets, the_config)
        .watches(workload_caches.deployments, the_config)
        .starts_with(DEFAULT_OPERATOR_CONFIG_NAME)
        .complete(reconciler.reconcile)
    )
    return reconciler.controller


class OperatorConfigReconciler(Reconciler):
    def __init__(
        self,
        manager: Manager,
        view: OperatorView,
        *,
        rollouts: Callable[[], list[Rollout]] | None = None,
        set_log_level: Callable[[str], bool] = set_level,
    ) -> None:
        super().__init__(manager, view)
        self.rollouts = rollouts  # the workloads' progress; Ready waits for it
        self.set_log_level = set_log_level  # the process's own level follows spec.logLevel

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
        spec = config.get("spec") or {}
        level = operator_log_level(spec)
        if level is not None and self.set_log_level(level):
            logger.info("log level %s (SriovOperatorConfig logLevel %s)", level, spec.get("logLevel"))
        condition = operator_config_condition(errors, spec.get("configurationMode"))
        rollouts = self.rollouts() if self.rollouts is not None else []
        if self.rollouts is not None:
            condition = with_rollouts(condition, rollouts)
        current = config.get("status") or {}
        generation = generation_of(config)
        conditions = merged(current.get("conditions"), condition, self.clock.now(), generation)
        states = component_states(
            spec.get("enableInjector") is True, spec.get("enableOperatorWebhook") is True, rollouts
        )
        status = {**states, "conditions": conditions}
        written = {key: current.get(key) for key in status}
        if status_needs_write(written, status):
            await self.objects.apply(
                SRIOV_OPERATOR_CONFIGS, status_body(config, status), FIELD_MANAGER, subresource="status"
            )
        return None
