"""The engine's inputs as they are in a cluster, read once (for ``diff``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sriov_operator.api.constants import DEFAULT_OPERATOR_NAMESPACE, SUPPORTED_NIC_CONFIGMAP
from sriov_operator.api.documents import Document
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    NODES,
    OVS_NETWORKS,
    SRIOV_IB_NETWORKS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORK_POOL_CONFIGS,
    SRIOV_NETWORKS,
    SRIOV_OPERATOR_CONFIGS,
    Resource,
)
from sriov_operator.kube.session import api_session

PAGE = 500


async def list_all(
    objects: KubeObjects, resource: Resource, namespace: str | None = None
) -> list[dict[str, Any]]:
    """Every object, page by page, with kind and apiVersion filled in (list items lack them)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = await objects.list(resource, namespace=namespace, limit=PAGE, continue_=token)
        items += [
            {"apiVersion": resource.api_version, "kind": resource.kind, **item} for item in page["items"]
        ]
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


async def read_cluster_documents(kubeconfig: Path | None, namespace: str | None) -> list[Document]:
    operator_namespace = namespace or DEFAULT_OPERATOR_NAMESPACE
    sources: list[tuple[Resource, str | None]] = [
        (NODES, None),
        (SRIOV_NETWORK_NODE_STATES, operator_namespace),
        (SRIOV_NETWORK_NODE_POLICIES, operator_namespace),
        (SRIOV_NETWORK_POOL_CONFIGS, operator_namespace),
        (SRIOV_OPERATOR_CONFIGS, operator_namespace),
        (SRIOV_NETWORKS, None),
        (SRIOV_IB_NETWORKS, None),
        (OVS_NETWORKS, None),
    ]
    documents: list[Document] = []
    async with api_session(kubeconfig) as api:
        objects = KubeObjects(api)
        for resource, in_namespace in sources:
            where = f"{resource.plural} from the API server"
            documents += [
                Document(where, 0, item) for item in await list_all(objects, resource, in_namespace)
            ]
        nics = await objects.get(CONFIG_MAPS, SUPPORTED_NIC_CONFIGMAP, operator_namespace)
        if nics is not None:
            documents.append(Document("configmaps from the API server", 0, {"kind": "ConfigMap", **nics}))
    return documents
