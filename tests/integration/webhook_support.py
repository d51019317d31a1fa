"""Helpers for the webhook's integration tests: the NAD CRD (Multus owns it, not us) and object builders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes_asyncio import client

from sriov_operator.webhook.admission import ClusterSnapshot
from sriov_operator.webhook.injector import NadKey


def nad_crd() -> dict[str, Any]:
    """A minimal NetworkAttachmentDefinition CRD, as Multus installs it."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
        "spec": {
            "group": "k8s.cni.cncf.io",
            "scope": "Namespaced",
            "names": {
                "plural": "network-attachment-definitions",
                "singular": "network-attachment-definition",
                "kind": "NetworkAttachmentDefinition",
                "shortNames": ["net-attach-def"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"config": {"type": "string"}}}
                            },
                        }
                    },
                }
            ],
        },
    }


def policy_body(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "resourceName": spec.pop("resourceName", name),
            "nodeSelector": spec.pop("nodeSelector", {"sriov": "true"}),
            "numVfs": spec.pop("numVfs", 8),
            "nicSelector": spec.pop("nicSelector", {"pfNames": ["ens1f0"]}),
            **spec,
        },
    }


class ApiServerSource:
    """No cached objects; NADs read from the API server."""

    def __init__(self, kube: client.ApiClient, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot()

    async def network_attachment_definitions(
        self, keys: Iterable[NadKey]
    ) -> dict[NadKey, dict[str, Any] | None]:
        api = client.CustomObjectsApi(self.kube)
        found: dict[NadKey, dict[str, Any] | None] = {}
        for namespace, name in keys:
            try:
                found[(namespace, name)] = await api.get_namespaced_custom_object(
                    "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", name
                )
            except client.ApiException as error:
                if error.status != 404:
                    raise
                found[(namespace, name)] = None
        return found
