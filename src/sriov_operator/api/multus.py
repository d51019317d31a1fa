"""Multus's NetworkAttachmentDefinition CRD (``k8s.cni.cncf.io/v1``), for clusters and tests without Multus.

The operator writes NADs; Multus (or another meta-plugin) reads them. On a real
cluster Multus installs this CRD; the sandbox and the integration tests install
this copy. The schema is the public one: ``spec.config`` is the CNI
configuration as a JSON string. ``deploy/multus/`` holds the same document as
YAML (a unit test keeps them equal).
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from sriov_operator.api.constants import NAD_GROUP, NAD_KIND

NAD_PLURAL: Final = "network-attachment-definitions"
DEPLOY_FILE: Final = f"{NAD_GROUP}_{NAD_PLURAL}.yaml"

NETWORK_ATTACHMENT_DEFINITION_CRD: Final[dict[str, Any]] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{NAD_PLURAL}.{NAD_GROUP}"},
    "spec": {
        "group": NAD_GROUP,
        "scope": "Namespaced",
        "names": {
            "plural": NAD_PLURAL,
            "singular": "network-attachment-definition",
            "kind": NAD_KIND,
            "shortNames": ["net-attach-def"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "description": "A network that pods can attach to through a CNI meta-plugin.",
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": {
                                "description": "The attachment's CNI configuration.",
                                "type": "object",
                                "properties": {
                                    "config": {
                                        "description": "CNI configuration, a JSON document as a string.",
                                        "type": "string",
                                    }
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def render_nad_crd_yaml() -> str:
    header = (
        "# Multus's NetworkAttachmentDefinition CRD, from src/sriov_operator/api/multus.py; do not edit.\n"
    )
    return header + yaml.safe_dump(NETWORK_ATTACHMENT_DEFINITION_CRD, sort_keys=False, width=100)
