"""Helpers for the webhook's integration tests: the NAD CRD (Multus owns it, not us) and object builders."""

from __future__ import annotations

from typing import Any


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


def node_body(name: str, labels: dict[str, str]) -> dict[str, Any]:
    worker = {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {**worker, **labels}}}


def node_state_body(name: str, namespace: str) -> dict[str, Any]:
    """A NodeState whose status (as the config daemon reports it) has one Intel PF with 16 VFs at most."""
    interface = {
        "name": "ens1f0",
        "pciAddress": "0000:3b:00.0",
        "vendor": "8086",
        "deviceID": "158b",
        "totalvfs": 16,
        "numVfs": 0,
        "mtu": 1500,
        "linkType": "ETH",
    }
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {},
        "status": {"interfaces": [interface]},
    }
