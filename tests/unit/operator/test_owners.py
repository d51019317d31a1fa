"""What the operator writes is owned by its install (Deployment / ClusterRole), so uninstalling removes it."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.operator.owners import is_object_name, owners_from, stamped

DEPLOYMENT = {"metadata": {"name": "sriov-network-operator", "namespace": "ops", "uid": "dep-uid"}}
CLUSTER_ROLE = {"metadata": {"name": "sriov-network-operator", "uid": "role-uid"}}
OWNERS = owners_from("ops", DEPLOYMENT, CLUSTER_ROLE)


def body(kind: str, name: str = "x", namespace: str | None = None, **more: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **more}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def owner_of(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["name"], r["uid"]) for r in obj["metadata"].get("ownerReferences", [])]


@pytest.mark.parametrize(
    "kind",
    ["DaemonSet", "Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap"],
)
def test_what_it_creates_in_its_namespace_is_owned_by_its_deployment(kind: str) -> None:
    assert owner_of(stamped(body(kind, namespace="ops"), OWNERS)) == [
        ("Deployment", "sriov-network-operator", "dep-uid")
    ]


@pytest.mark.parametrize(
    "kind",
    ["ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"],
)
def test_cluster_wide_objects_are_owned_by_its_cluster_role(kind: str) -> None:
    """A cluster-scoped object cannot name a namespaced owner (the GC would never resolve it)."""
    assert owner_of(stamped(body(kind), OWNERS)) == [("ClusterRole", "sriov-network-operator", "role-uid")]


@pytest.mark.parametrize(
    "obj",
    [
        body("CustomResourceDefinition"),  # outlives an uninstall: it holds the users' objects
        body("Node"),
        body("NetworkAttachmentDefinition", namespace="apps"),  # users' namespaces
        body("ConfigMap", namespace="apps"),
        body("SriovOperatorConfig", namespace="ops"),
        body("Event", namespace="ops"),
    ],
)
def test_crds_nodes_and_objects_in_users_namespaces_are_never_owned(obj: dict[str, Any]) -> None:
    assert stamped(obj, OWNERS) is obj


def test_an_existing_reference_is_kept_and_ours_not_repeated() -> None:
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "other"}
    once = stamped(body("Secret", namespace="ops", ownerReferences=[other]), OWNERS)
    twice = stamped(once, OWNERS)
    assert owner_of(twice) == [
        ("ConfigMap", "o", "other"),
        ("Deployment", "sriov-network-operator", "dep-uid"),
    ]


def test_without_both_installed_objects_nothing_is_owned() -> None:
    assert owners_from("ops", None, CLUSTER_ROLE) is None
    assert owners_from("ops", DEPLOYMENT, None) is None
    obj = body("DaemonSet", namespace="ops")
    assert stamped(obj, None) is obj


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("sriov-network-operator", True),
        ("a.b-c", True),
        ("", False),
        ("Upper", False),
        ("a/b", False),
        ("x" * 254, False),
    ],
)
def test_owner_names_are_object_names(name: str, valid: bool) -> None:
    assert is_object_name(name) is valid
