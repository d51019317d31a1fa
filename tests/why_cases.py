"""One healthy SR-IOV chain as API objects, and one way to break each link of it.

Shared by the pure walk's table (``tests/unit/test_why.py``) and the same table on the
real API server (``tests/integration/test_why_on_apiserver.py``), so the two prove the
same cases: every case but ``None`` must break ``why`` at exactly its step.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import (
    APPLIED_GENERATION_ANNOTATION,
    DEVICE_PLUGIN_CONFIG_FOR_LABEL,
    FOR_GENERATION_ANNOTATION,
    GROUP,
    HANDED_OVER_ANNOTATION,
    NAD_RESOURCE_NAME_ANNOTATION,
    OWNER_REF_ANNOTATION,
    POD_NETWORKS_ANNOTATION,
)
from sriov_operator.api.names import device_plugin_configmap_name

Object = dict[str, Any]
RESOURCE = "whyres"
FULL_NAME = f"openshift.io/{RESOURCE}"
API = "sriovnetwork.openshift.io/v1"


@dataclass
class Chain:
    """The objects of one pod's chain; ``status`` is written through the status subresource."""

    operator_namespace: str
    app_namespace: str
    node: str
    label: str  # the policy's nodeSelector value, unique per test run
    objects: dict[str, Object]

    def copy(self) -> Chain:
        return Chain(
            self.operator_namespace, self.app_namespace, self.node, self.label, copy.deepcopy(self.objects)
        )


def healthy_chain(operator_namespace: str, app_namespace: str, node: str, label: str) -> Chain:
    config = json.dumps(
        {
            "resourceList": [
                {
                    "resourceName": RESOURCE,
                    "resourcePrefix": "openshift.io",
                    "selectors": {"pfNames": ["ens1f0"]},
                }
            ]
        }
    )
    objects: dict[str, Object] = {
        "node": {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node,
                "labels": {
                    "node-role.kubernetes.io/worker": "",
                    "kubernetes.io/os": "linux",
                    "why-test": label,
                },
            },
            "status": {
                "capacity": {FULL_NAME: "2", "pods": "10"},
                "allocatable": {FULL_NAME: "2", "pods": "10"},
            },
        },
        "policy": {
            "apiVersion": API,
            "kind": "SriovNetworkNodePolicy",
            "metadata": {"name": "whypol", "namespace": operator_namespace},
            "spec": {
                "resourceName": RESOURCE,
                "nodeSelector": {"why-test": label},
                "nicSelector": {"pfNames": ["ens1f0"]},
                "numVfs": 2,
            },
        },
        "state": {
            "apiVersion": API,
            "kind": "SriovNetworkNodeState",
            "metadata": {
                "name": node,
                "namespace": operator_namespace,
                "generation": 1,  # what the API server sets on create
                "annotations": {APPLIED_GENERATION_ANNOTATION: "1"},
            },
            "spec": {
                "interfaces": [
                    {
                        "pciAddress": "0000:3b:00.0",
                        "name": "ens1f0",
                        "numVfs": 2,
                        "vfGroups": [
                            {
                                "resourceName": RESOURCE,
                                "deviceType": "netdevice",
                                "vfRange": "0-1",
                                "policyName": "whypol",
                            }
                        ],
                    }
                ]
            },
            "status": {
                "syncStatus": "Succeeded",
                "interfaces": [
                    {"name": "ens1f0", "pciAddress": "0000:3b:00.0", "vendor": "8086", "deviceID": "158b"}
                ],
            },
        },
        "configmap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": device_plugin_configmap_name(node),
                "namespace": operator_namespace,
                "labels": {DEVICE_PLUGIN_CONFIG_FOR_LABEL: node},
                "annotations": {
                    FOR_GENERATION_ANNOTATION: "1",
                    HANDED_OVER_ANNOTATION: hashlib.sha256(config.encode()).hexdigest(),
                },
            },
            "data": {"config.json": config},
        },
        "network": {
            "apiVersion": API,
            "kind": "SriovNetwork",
            "metadata": {"name": "whynet", "namespace": operator_namespace},
            "spec": {"resourceName": RESOURCE, "networkNamespace": app_namespace},
        },
        "nad": {
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {
                "name": "whynet",
                "namespace": app_namespace,
                "annotations": {
                    NAD_RESOURCE_NAME_ANNOTATION: FULL_NAME,
                    OWNER_REF_ANNOTATION: f"SriovNetwork.{GROUP}/{operator_namespace}/whynet",
                },
            },
            "spec": {"config": '{"cniVersion":"1.0.0","name":"whynet","type":"sriov"}'},
        },
        "pod": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "whypod",
                "namespace": app_namespace,
                "annotations": {POD_NETWORKS_ANNOTATION: "whynet"},
            },
            "spec": {
                "nodeName": node,
                "schedulerName": "why-test-no-scheduler",  # kube-scheduler leaves it alone
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example/app:1",
                        "resources": {"requests": {FULL_NAME: "1"}, "limits": {FULL_NAME: "1"}},
                    }
                ],
            },
        },
    }
    return Chain(operator_namespace, app_namespace, node, label, objects)


def _unscheduled(chain: Chain) -> None:
    pod = chain.objects["pod"]
    del pod["spec"]["nodeName"]
    pod["status"] = {
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": f"0/1 nodes are available: 1 Insufficient {FULL_NAME}.",
            }
        ]
    }


def _without_request(chain: Chain) -> None:
    del chain.objects["pod"]["spec"]["containers"][0]["resources"]


def _sync_failed(chain: Chain) -> None:
    chain.objects["state"]["status"].update(
        syncStatus="Failed", lastSyncError="setNumVfs ens1f0: write error"
    )


# step -> how to break it (what a user would meet)
BREAKS: dict[str, Callable[[Chain], object]] = {
    "pod": lambda c: c.objects.pop("pod"),
    "annotation": lambda c: c.objects["pod"]["metadata"]["annotations"].update(
        {POD_NETWORKS_ANNOTATION: "[bad"}
    ),
    "nad": lambda c: c.objects.pop("nad"),
    "network": lambda c: c.objects.pop("network"),
    "resource": _without_request,
    "policy": lambda c: c.objects["policy"]["spec"].update(resourceName="otherres"),
    "nodes": lambda c: c.objects["policy"]["spec"].update(nodeSelector={"why-test": "nowhere"}),
    "nodestate": lambda c: c.objects["state"]["spec"].update(interfaces=[]),
    "sync": _sync_failed,
    "handoff": lambda c: c.objects["configmap"]["metadata"]["annotations"].pop(HANDED_OVER_ANNOTATION),
    "allocatable": lambda c: c.objects["node"]["status"]["allocatable"].update({FULL_NAME: "0"}),
    "scheduler": _unscheduled,
}


def broken(chain: Chain, step: str) -> Chain:
    result = chain.copy()
    BREAKS[step](result)
    return result
