"""The API resources the processes read and write, and their REST paths."""

from __future__ import annotations

from dataclasses import dataclass

from sriov_operator.api import models
from sriov_operator.api.constants import GROUP, NAD_GROUP, VERSION
from sriov_operator.api.models import KubeObject


@dataclass(frozen=True)
class Resource:
    """One REST resource: where it lives (group/version/plural) and what it holds (kind)."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """``plural`` or ``plural.group``: unambiguous, used as a metric label."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path; without a namespace a namespaced resource is addressed across all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if namespace is not None and self.namespaced:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
            if subresource is not None:
                parts.append(subresource)
        return "/".join(parts)


NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
PODS = Resource("", "v1", "pods", "Pod", namespaced=True)
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap", namespaced=True)
SECRETS = Resource("", "v1", "secrets", "Secret", namespaced=True)
SERVICES = Resource("", "v1", "services", "Service", namespaced=True)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount", namespaced=True)
EVENTS = Resource("events.k8s.io", "v1", "events", "Event", namespaced=True)
# The same Events through the core API: the only way to write lastTimestamp/count, which
# `kubectl get events --sort-by=.lastTimestamp` reads (events.k8s.io/v1 refuses them).
CORE_EVENTS = Resource("", "v1", "events", "Event", namespaced=True)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True)
DAEMON_SETS = Resource("apps", "v1", "daemonsets", "DaemonSet", namespaced=True)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment", namespaced=True)
POD_DISRUPTION_BUDGETS = Resource(
    "policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", namespaced=True
)
CLUSTER_ROLES = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
CLUSTER_ROLE_BINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
)
SERVICE_MONITORS = Resource(
    "monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", namespaced=True
)
"""The Prometheus operator's; served only where its CRD is installed."""
ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", namespaced=True)
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", namespaced=True)
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False
)
NETWORK_ATTACHMENT_DEFINITIONS = Resource(
    NAD_GROUP, "v1", "network-attachment-definitions", "NetworkAttachmentDefinition", namespaced=True
)
VALIDATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    namespaced=False,
)
MUTATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration",
    namespaced=False,
)


def custom_resource(kind: type[KubeObject]) -> Resource:
    """The REST resource of one of our kinds, from the model that also generates its CRD."""
    return Resource(GROUP, VERSION, kind.PLURAL, kind.KIND, namespaced=True)


SRIOV_NETWORK_NODE_STATES = custom_resource(models.SriovNetworkNodeState)
SRIOV_NETWORK_NODE_POLICIES = custom_resource(models.SriovNetworkNodePolicy)
SRIOV_NETWORKS = custom_resource(models.SriovNetwork)
SRIOV_IB_NETWORKS = custom_resource(models.SriovIBNetwork)
OVS_NETWORKS = custom_resource(models.OVSNetwork)
SRIOV_OPERATOR_CONFIGS = custom_resource(models.SriovOperatorConfig)
SRIOV_NETWORK_POOL_CONFIGS = custom_resource(models.SriovNetworkPoolConfig)
