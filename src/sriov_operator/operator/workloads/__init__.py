"""The workloads controller: SriovOperatorConfig -> config daemon, device plugin, webhook and their RBAC.

``register(manager, settings)`` adds it to an operator's `Manager`; see docs/operator-config.md.
"""

from __future__ import annotations

from sriov_operator.api.constants import DEFAULT_OPERATOR_CONFIG_NAME, FIELD_MANAGER
from sriov_operator.kube.resources import DAEMON_SETS, DEPLOYMENTS, SRIOV_OPERATOR_CONFIGS
from sriov_operator.operator.workloads.controller import WorkloadCaches, WorkloadsReconciler
from sriov_operator.operator.workloads.render import MANAGED_BY_LABEL
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.runtime.builder import always, by_name, controller_for
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import strip_managed_fields

CONTROLLER_NAME = "workloads"
RESYNC_PERIOD = 600.0  # seconds between full re-applies that repair drift in objects we do not watch


def caches(manager: Manager, settings: WorkloadSettings) -> WorkloadCaches:
    """The shared informers of the workloads we run (``manager.informer`` gives each caller the same)."""
    namespace = settings.namespace
    ours = f"{MANAGED_BY_LABEL}={FIELD_MANAGER}"
    return WorkloadCaches(
        configs=manager.informer(SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields),
        daemon_sets=manager.informer(
            DAEMON_SETS, namespace=namespace, label_selector=ours, transform=strip_managed_fields
        ),
        deployments=manager.informer(
            DEPLOYMENTS, namespace=namespace, label_selector=ours, transform=strip_managed_fields
        ),
        settings=settings,
    )


def register(manager: Manager, settings: WorkloadSettings) -> Controller:
    """Add the workloads controller to ``manager``."""
    shared = caches(manager, settings)
    reconciler = WorkloadsReconciler(
        manager.objects, shared, clock=manager.clock, reapply_after=RESYNC_PERIOD
    )
    the_config = always(DEFAULT_OPERATOR_CONFIG_NAME)
    return (
        controller_for(manager)
        .named(CONTROLLER_NAME)
        .resync_every(RESYNC_PERIOD)
        .watches(shared.configs, by_name)
        .watches(shared.daemon_sets, the_config)
        .watches(shared.deployments, the_config)
        .complete(reconciler.reconcile)
    )
