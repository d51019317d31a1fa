"""The workloads reconciler (one key: the default SriovOperatorConfig): render, apply, delete, report.

Everything rendered is server-side applied when the rendering changed, when one
of our DaemonSets or Deployments is missing from the cache (someone deleted it),
or when the last apply is older than ``reapply_after`` (repairs drift in objects we do not watch). Objects
a disabled flag turns off are deleted. The ``Ready`` condition follows the
rollouts of the DaemonSets and the Deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Hashable
from typing import Any

from sriov_operator.api.conditions import find_condition, same_condition, transitioned
from sriov_operator.api.constants import (
    API_VERSION,
    DEFAULT_OPERATOR_CONFIG_NAME,
    FIELD_MANAGER,
    WORKLOADS_FIELD_MANAGER,
)
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    DAEMON_SETS,
    DEPLOYMENTS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    SERVICES,
    SRIOV_OPERATOR_CONFIGS,
    Resource,
)
from sriov_operator.operator.workloads.render import Workloads, render_workloads, unsupported
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.operator.workloads.status import REASON_INVALID, pods_of, ready_condition, rollout
from sriov_operator.runtime.clock import Clock
from sriov_operator.runtime.controller import Result
from sriov_operator.runtime.informer import Informer

log = logging.getLogger(__name__)

Object = dict[str, Any]

RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        SERVICE_ACCOUNTS,
        CLUSTER_ROLES,
        CLUSTER_ROLE_BINDINGS,
        ROLES,
        ROLE_BINDINGS,
        DAEMON_SETS,
        DEPLOYMENTS,
        SERVICES,
    )
}


def fingerprint(workloads: Workloads) -> str:
    text = json.dumps([workloads.apply, workloads.delete], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class WorkloadsReconciler:
    def __init__(
        self,
        objects: KubeObjects,
        *,
        configs: Informer,
        daemon_sets: Informer,
        deployments: Informer,
        settings: WorkloadSettings,
        clock: Clock,
        reapply_after: float = 600.0,
    ) -> None:
        self.objects = objects
        self.configs = configs
        self.daemon_sets = daemon_sets
        self.deployments = deployments
        self.settings = settings
        self.clock = clock
        self.reapply_after = reapply_after
        self._applied: tuple[str, float] | None = None  # (fingerprint, monotonic time) of the last apply

    def _must_apply(self, rendered: str, missing: bool) -> bool:
        if missing or self._applied is None:
            return True
        fingerprint_then, when = self._applied
        return rendered != fingerprint_then or self.clock.monotonic() - when >= self.reapply_after

    def _live(self, kind: str, name: str) -> Object | None:
        cache = self.daemon_sets if kind == "DaemonSet" else self.deployments
        return cache.get(name, self.settings.namespace)

    async def reconcile(self, key: Hashable) -> Result | None:
        name = str(key)
        if name != DEFAULT_OPERATOR_CONFIG_NAME:
            return None  # only the default config counts (as upstream)
        raw = self.configs.get(name, self.settings.namespace)
        if raw is None:
            return None  # the operator creates it; its creation enqueues us again
        config = SriovOperatorConfig.model_validate(raw)
        workloads = render_workloads(config, self.settings)
        running = pods_of(workloads.apply)
        missing = any(self._live(kind, obj_name) is None for kind, obj_name in running)
        rendered = fingerprint(workloads)
        if self._must_apply(rendered, missing):
            await self._apply(workloads)
            self._applied = (rendered, self.clock.monotonic())
        problems = unsupported(config)
        if problems:
            status, reason, message = "False", REASON_INVALID, "; ".join(problems)
        else:
            status, reason, message = ready_condition([rollout(k, n, self._live(k, n)) for k, n in running])
        await self._condition(raw, status, reason, message)
        return None

    async def _apply(self, workloads: Workloads) -> None:
        for obj in workloads.apply:
            await self.objects.apply(RESOURCES[obj["kind"]], obj, FIELD_MANAGER)
        for obj in workloads.delete:
            meta = obj["metadata"]
            if await self.objects.delete(RESOURCES[obj["kind"]], meta["name"], meta.get("namespace")):
                log.info("deleted %s/%s: turned off in the SriovOperatorConfig", obj["kind"], meta["name"])

    async def _condition(self, config: Object, status: str, reason: str, message: str) -> None:
        previous = find_condition((config.get("status") or {}).get("conditions"), "Ready")
        if same_condition(previous, status, reason, message):
            return
        condition = transitioned(
            previous, type_="Ready", status=status, reason=reason, message=message, now=self.clock.now()
        )
        body = {
            "apiVersion": API_VERSION,
            "kind": "SriovOperatorConfig",
            "metadata": {"name": config["metadata"]["name"], "namespace": self.settings.namespace},
            "status": {"conditions": [condition]},
        }
        await self.objects.apply(SRIOV_OPERATOR_CONFIGS, body, WORKLOADS_FIELD_MANAGER, subresource="status")
