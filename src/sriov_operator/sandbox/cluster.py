"""Bring up the sandbox's API: CRDs (ours and Multus's), the operator namespace and its RBAC, Nodes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    NAMESPACES,
    NODES,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    Resource,
)
from sriov_operator.kube.session import api_session
from sriov_operator.operator.controllers.operator_config import default_operator_config

FIELD_MANAGER = "sriov-sandbox"
TOKEN_SECONDS = 7 * 24 * 3600
RBAC_RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (NAMESPACES, SERVICE_ACCOUNTS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS, ROLES, ROLE_BINDINGS)
}


def operator_config(namespace: str) -> Object:
    """The default SriovOperatorConfig as the operator would create it, with the injector on."""
    config = default_operator_config(namespace)
    config["spec"]["enableInjector"] = True
    return config


async def install_api(kubeconfig: Path) -> None:
    async with api_session(kubeconfig) as api:
        await install_crds(KubeObjects(api), [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])


async def service_account_kubeconfig(admin: Path, namespace: str, account: str, target: Path) -> Path:
    """A kubeconfig with a bound token of ``namespace/account`` (TokenRequest), so the process using it
    has exactly that account's RBAC, as in a pod."""
    async with api_session(admin) as api:
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"audiences": [], "expirationSeconds": TOKEN_SECONDS},
        }
        answer = await KubeObjects(api).create(
            SERVICE_ACCOUNTS, request, namespace, name=account, subresource="token"
        )
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": account, "user": {"token": answer["status"]["token"]}}]
    for context in config["contexts"]:
        context["context"]["user"] = account
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    target.chmod(0o600)
    return target


async def apply_all(objects: KubeObjects, documents: list[Object], kinds: dict[str, Resource]) -> list[str]:
    """Server-side apply each document; ``Kind/[ns/]name`` of each."""
    applied = []
    for document in documents:
        resource = kinds[document["kind"]]
        await objects.apply(resource, document, FIELD_MANAGER)
        metadata = document["metadata"]
        applied.append(
            "/".join(p for p in (document["kind"], metadata.get("namespace"), metadata["name"]) if p)
        )
    return applied


def default_service_account(namespace: str) -> Object:
    """What kube-controller-manager (not run here) creates in every namespace; pods need it."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    }


async def register_node(objects: KubeObjects, node: dict[str, Any]) -> None:
    """Create the Node, then its status (the status subresource), as a kubelet registers itself."""
    body = {k: v for k, v in node.items() if k != "status"}
    await objects.apply(NODES, body, FIELD_MANAGER)
    status = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node["metadata"]["name"]}}
    await objects.apply(NODES, {**status, "status": node["status"]}, FIELD_MANAGER, subresource="status")


def publish_kubeconfig(plane: ControlPlane, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plane.kubeconfig, target)
    target.chmod(0o600)
    return target
