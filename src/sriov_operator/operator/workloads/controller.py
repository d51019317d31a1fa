"""The workloads reconciler (one key: the default SriovOperatorConfig): render, apply, delete.

Everything rendered is server-side applied when the rendering changed, when one
of our DaemonSets or Deployments is missing from the cache (someone deleted it),
or when the last apply is older than ``reapply_after`` (repairs drift in objects we do not watch). Objects
a disabled flag turns off are deleted. `rollouts` tells the operator-config
controller, which writes the config's ``Ready``, how far the workloads are.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass

from sriov_operator.api.constants import DEFAULT_OPERATOR_CONFIG_NAME, FIELD_MANAGER
from sriov_operator.api.models import SriovOperatorConfig
from sriov_operator.kube.errors import ForbiddenError
from sriov_operator.kube.objects import KubeObjects, Object, served
from sriov_operator.kube.resources import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    DAEMON_SETS,
    DEPLOYMENTS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    SERVICE_MONITORS,
    SERVICES,
    Resource,
)
from sriov_operator.operator.workloads.render import Workloads, cni_plugins_used, render_workloads
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.operator.workloads.status import Rollout, pods_of, rollout
from sriov_operator.runtime.clock import Clock
from sriov_operator.runtime.controller import Result
from sriov_operator.runtime.informer import Informer

log = logging.getLogger(__name__)


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
        SERVICE_MONITORS,
    )
}


def fingerprint(workloads: Workloads) -> str:
    text = json.dumps([workloads.apply, workloads.delete], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class WorkloadCaches:
    """The informers the workloads controller and the operator config's ``Ready`` share."""

    configs: Informer
    daemon_sets: Informer
    deployments: Informer
    ib_networks: Informer
    ovs_networks: Informer
    """Which CNI plugins the config daemon installs depends on which networks exist."""
    settings: WorkloadSettings

    def live(self, kind: str, name: str) -> Object | None:
        cache = self.daemon_sets if kind == "DaemonSet" else self.deployments
        return cache.get(name, self.settings.namespace)

    def config(self) -> SriovOperatorConfig | None:
        raw = self.configs.get(DEFAULT_OPERATOR_CONFIG_NAME, self.settings.namespace)
        return SriovOperatorConfig.model_validate(raw) if raw is not None else None

    def render(self, config: SriovOperatorConfig, service_monitors: bool = False) -> Workloads:
        """``service_monitors``: the ServiceMonitor CRD is served (no pods depend on it)."""
        plugins = cni_plugins_used(len(self.ib_networks.keys()), len(self.ovs_networks.keys()))
        return render_workloads(config, self.settings, plugins, service_monitors)

    def rollouts(self) -> list[Rollout]:
        """How far each DaemonSet / Deployment of the current config has rolled out (for ``Ready``)."""
        config = self.config()
        if config is None:
            return []
        running = pods_of(self.render(config).apply)
        return [rollout(kind, name, self.live(kind, name)) for kind, name in running]


class WorkloadsReconciler:
    def __init__(
        self, objects: KubeObjects, caches: WorkloadCaches, *, clock: Clock, reapply_after: float = 600.0
    ) -> None:
        self.objects = objects
        self.caches = caches
        self.settings = caches.settings
        self.clock = clock
        self.reapply_after = reapply_after
        self._applied: tuple[str, float] | None = None  # (fingerprint, monotonic time) of the last apply

    def _must_apply(self, rendered: str, missing: bool) -> bool:
        if missing or self._applied is None:
            return True
        fingerprint_then, when = self._applied
        return rendered != fingerprint_then or self.clock.monotonic() - when >= self.reapply_after

    async def reconcile(self, key: Hashable) -> Result | None:
        if str(key) != DEFAULT_OPERATOR_CONFIG_NAME:
            return None  # only the default config counts (as upstream)
        config = self.caches.config()
        if config is None:
            return None  # the operator creates it; its creation enqueues us again
        # looked up on each reconcile (a CRD installed later is found by the periodic resync)
        workloads = self.caches.render(config, await self._service_monitors_served())
        missing = any(self.caches.live(kind, name) is None for kind, name in pods_of(workloads.apply))
        rendered = fingerprint(workloads)
        if self._must_apply(rendered, missing):
            await self._apply(workloads)
            self._applied = (rendered, self.clock.monotonic())
        return None

    async def _service_monitors_served(self) -> bool:
        """Whether ServiceMonitors can be managed here: an RBAC without them (a chart from before the
        metrics exporter, during an upgrade) is answered 403 even where the CRD is absent."""
        try:
            return await served(self.objects, SERVICE_MONITORS, self.settings.namespace)
        except ForbiddenError as error:
            log.warning("ServiceMonitors are not managed: this operator may not list them (%s)", error)
            return False

    async def _apply(self, workloads: Workloads) -> None:
        for obj in workloads.apply:
            await self.objects.apply(RESOURCES[obj["kind"]], obj, FIELD_MANAGER)
        for obj in workloads.delete:
            meta = obj["metadata"]
            if await self.objects.delete(RESOURCES[obj["kind"]], meta["name"], meta.get("namespace")):
                log.info("deleted %s/%s: turned off in the SriovOperatorConfig", obj["kind"], meta["name"])
