"""Which installed objects own what the operator creates, so uninstalling removes it (pure).

The install (Helm chart or kustomize base) creates the operator's Deployment and
its ClusterRole, both named by ``--uninstall-with``. Everything the operator
writes into its own namespace gets an ownerReference to that Deployment, and
every cluster-scoped object it writes one to that ClusterRole (a cluster-scoped
object cannot name a namespaced owner). ``helm uninstall`` or ``kubectl delete
-k`` deletes those two, and the cluster's garbage collector deletes the rest:
the config daemon and device plugin DaemonSets, the webhook, their
ServiceAccounts, RBAC and Secrets, the webhook configurations, the NodeStates and
the leader-election Lease.

Never stamped: CRDs (the CRDs outlive an uninstall and hold users' objects),
Nodes, SriovOperatorConfigs, users' objects (NADs live in users' namespaces),
Events, and status writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriov_operator.api.names import is_dns1123_subdomain

Object = dict[str, Any]

NAMESPACED_KINDS = frozenset(
    {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "DaemonSet",
        "Deployment",
        "Service",
        "Secret",
        "ConfigMap",
        "NetworkPolicy",
        "Lease",
        "SriovNetworkNodeState",
    }
)
CLUSTER_KINDS = frozenset(
    {
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)


def is_object_name(name: str) -> bool:
    """A DNS-1123 subdomain (what Deployments and ClusterRoles are named by)."""
    return is_dns1123_subdomain(name)


@dataclass(frozen=True)
class Owners:
    namespace: str
    """The operator's namespace: only objects there get the namespaced owner."""
    namespaced: Object
    """ownerReference to the operator's Deployment."""
    cluster: Object
    """ownerReference to the operator's ClusterRole."""


def owner_reference(owner: Object) -> Object:
    """An ownerReference to ``owner`` (no ``controller``, no ``blockOwnerDeletion``: only for GC)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }


def owners_from(namespace: str, deployment: Object | None, cluster_role: Object | None) -> Owners | None:
    """Both owners as read from the API server, or None when either is missing (not installed)."""
    if deployment is None or cluster_role is None:
        return None
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", **deployment}
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", **cluster_role}
    return Owners(namespace, owner_reference(deployment), owner_reference(cluster_role))


def owner_for(body: Object, owners: Owners) -> Object | None:
    """The ownerReference ``body`` should carry, or None when it is not the operator's to own."""
    kind = body.get("kind")
    meta = body.get("metadata") or {}
    if kind in CLUSTER_KINDS and not meta.get("namespace"):
        return owners.cluster
    if kind in NAMESPACED_KINDS and meta.get("namespace") == owners.namespace:
        return owners.namespaced
    return None


def stamped(body: Object, owners: Owners | None) -> Object:
    """``body`` with its owner's reference added (a copy), or ``body`` itself when it has none."""
    owner = owner_for(body, owners) if owners is not None else None
    if owner is None:
        return body
    meta = dict(body.get("metadata") or {})
    present = [ref for ref in meta.get("ownerReferences") or [] if ref.get("uid") != owner["uid"]]
    meta["ownerReferences"] = [*present, owner]
    return {**body, "metadata": meta}
