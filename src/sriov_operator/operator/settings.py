"""The operator process's one settings object (built from flags in commands/operator.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sriov_operator.api.constants import DEFAULT_RESOURCE_PREFIX
from sriov_operator.operator.drain.settings import DrainSettings
from sriov_operator.operator.workloads.settings import WorkloadSettings
from sriov_operator.runtime.settings import RuntimeSettings

LEASE_NAME = "sriov-fdp-operator"


@dataclass(frozen=True)
class OperatorSettings:
    runtime: RuntimeSettings = field(
        default_factory=lambda: RuntimeSettings(leader_elect=True, lease_name=LEASE_NAME)
    )
    resource_prefix: str = DEFAULT_RESOURCE_PREFIX
    node_state_grace: float = 60.0  # seconds a NodeState outlives its Node before it is deleted
    workers: int = 8  # concurrent node-state (and device-plugin) reconciles, each mostly waiting on the API
    apply_crds: bool = True  # server-side apply our CRDs at start when they differ (crd_upgrade.py)
    status_delay: float = 1.0  # seconds status writes wait to gather more changes into one write
    drain: DrainSettings = field(default_factory=DrainSettings)
    workloads: WorkloadSettings = field(default_factory=WorkloadSettings)
    uninstall_with: str = ""
    """Deployment (in its namespace) and ClusterRole of this name own what it creates (owners.py)."""

    @property
    def namespace(self) -> str:
        return self.runtime.namespace


def drain_settings(settings: OperatorSettings) -> DrainSettings:
    """The drain controller's settings, in the operator's namespace and resource prefix."""
    return replace(settings.drain, namespace=settings.namespace, resource_prefix=settings.resource_prefix)


def workloads_settings(settings: OperatorSettings) -> WorkloadSettings:
    """The workloads controller's settings, in the operator's namespace and resource prefix."""
    return replace(settings.workloads, namespace=settings.namespace, resource_prefix=settings.resource_prefix)
