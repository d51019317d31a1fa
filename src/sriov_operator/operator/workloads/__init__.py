"""The workloads controller: SriovOperatorConfig -> config daemon, device plugin, webhook and their RBAC.

``register(manager, settings)`` adds it to an operator's `Manager`; see docs/operator-config.md.
"""

from __future__ import annotations

from typing import Any

from sriov_operator.api.constants import DEFAULT_OPERATOR_CONFIG_NAME, FIELD_MANAGER
from sriov_operator.kube.resources import (
    DAEMON_SETS,
    DEPLOYMENTS,
    OVS_NETWORKS,
    SRIOV_IB_NETWORKS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.operator.workloads.controller import WorkloadsReconciler
from sriov_operator.operator.workloads.render import MANAGED_BY_LABEL
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.runtime.controller import Controller
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.transforms import strip_managed_fields

CONTROLLER_NAME = "workloads"
RESYNC_PERIOD = 600.0  # seconds between full re-applies that repair drift in objects we do not watch


def register(manager: Manager, settings: WorkloadSettings) -> tuple[WorkloadsReconciler, Controller]:
    """Add the workloads controller to ``manager``; its informers also serve the config's ``Ready``."""
    namespace = settings.namespace
    ours = f"{MANAGED_BY_LABEL}={FIELD_MANAGER}"
    reconciler = WorkloadsReconciler(
        manager.objects,
        configs=manager.informer(SRIOV_OPERATOR_CONFIGS, namespace=namespace, transform=strip_managed_fields),
        daemon_sets=manager.informer(
            DAEMON_SETS, namespace=namespace, label_selector=ours, transform=strip_managed_fields
        ),
        deployments=manager.informer(
            DEPLOYMENTS, namespace=namespace, label_selector=ours, transform=strip_managed_fields
        ),
        # which CNI plugins the config daemon installs depends on which networks exist
        ib_networks=manager.informer(SRIOV_IB_NETWORKS, transform=strip_managed_fields),
        ovs_networks=manager.informer(OVS_NETWORKS, transform=strip_managed_fields),
        settings=settings,
        clock=manager.clock,
        reapply_after=RESYNC_PERIOD,
    )
    controller = Controller(
        CONTROLLER_NAME, reconciler.reconcile, workers=1, resync_period=RESYNC_PERIOD, clock=manager.clock
    )

    def the_config(_: dict[str, Any]) -> list[str]:
        return [DEFAULT_OPERATOR_CONFIG_NAME]

    controller.watch(reconciler.configs, lambda obj: [obj["metadata"]["name"]])
    controller.watch(reconciler.daemon_sets, the_config)
    controller.watch(reconciler.deployments, the_config)
    controller.watch(reconciler.ib_networks, the_config)
    controller.watch(reconciler.ovs_networks, the_config)
    manager.add_controller(controller)
    return reconciler, controller
