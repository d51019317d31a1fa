"""Objects as the sandbox reads them from the API server, for the pure modules' tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

NS = "sriov-network-operator"
DPDK_CONFIG = {
    "resourceList": [
        {
            "resourceName": "dpdk1",
            "resourcePrefix": "openshift.io",
            "selectors": {"pciAddresses": ["0000:00:04.0"], "vendors": [], "isRdma": False},
        },
        {
            "resourceName": "hwoffload1",
            "resourcePrefix": "openshift.io",
            "selectors": {"pciAddresses": ["0000:00:07.0"], "isRdma": True},
        },
    ]
}


def vm_interfaces(dpdk_driver: str = "vfio-pci") -> list[dict[str, Any]]:
    """A VM's ports as the daemon reports them: each port is its own single VF."""

    def port(pci: str, name: str | None, vendor: str, driver: str) -> dict[str, Any]:
        vf = {"pciAddress": pci, "vendor": vendor, "deviceID": "1041", "driver": driver, "vfID": 0}
        return {"pciAddress": pci, "name": name, "vendor": vendor, "driver": driver, "numVfs": 1, "Vfs": [vf]}

    return [
        port("0000:00:03.0", "eth0", "1af4", "virtio-pci"),
        port("0000:00:04.0", None, "1af4", dpdk_driver),
        port("0000:00:06.0", "ens6", "8086", "iavf"),
        port("0000:00:07.0", "ens7", "15b3", "mlx5_core"),
    ]


def node_state(
    name: str, sync: str = "Succeeded", generation: int = 2, applied: int | None = 2, **status: Any
) -> dict[str, Any]:
    groups = [("0000:00:04.0", "dpdk1"), ("0000:00:07.0", "hwoffload1")]
    annotations = {} if applied is None else {"sriovnetwork.openshift.io/applied-generation": str(applied)}
    return {
        "metadata": {"name": name, "namespace": NS, "generation": generation, "annotations": annotations},
        "spec": {"interfaces": [{"pciAddress": p, "vfGroups": [{"resourceName": r}]} for p, r in groups]},
        "status": {"syncStatus": sync, "interfaces": vm_interfaces(), **status},
    }


def configmap(node: str, handed_over: bool = True) -> dict[str, Any]:
    text = json.dumps(DPDK_CONFIG)
    annotations = {"sriovnetwork.openshift.io/for-generation": "2"}
    if handed_over:
        annotations["sriovnetwork.openshift.io/handed-over"] = hashlib.sha256(text.encode()).hexdigest()
    return {
        "metadata": {
            "name": f"sriov-device-plugin-config-{node}",
            "namespace": NS,
            "annotations": annotations,
        },
        "data": {"config.json": text},
    }


def node(name: str, resources: dict[str, str] | None = None) -> dict[str, Any]:
    allocatable = {"cpu": "8", **(resources or {})}
    return {"metadata": {"name": name}, "status": {"allocatable": allocatable, "capacity": dict(allocatable)}}


PUBLISHED = {"openshift.io/dpdk1": "1", "openshift.io/hwoffload1": "1"}


def policy(name: str, matched: int | None, ready: int | None) -> dict[str, Any]:
    status = {} if matched is None else {"matchedNodes": matched, "readyNodes": ready}
    return {"metadata": {"name": name, "namespace": NS}, "status": status}


def pod(requests: dict[str, str] | None, node: str | None = "worker-0") -> dict[str, Any]:
    """The example pod; ``node``: where kube-scheduler bound it (None: not yet)."""
    container: dict[str, Any] = {"name": "app"}
    if requests is not None:
        container["resources"] = {"requests": requests, "limits": requests}
    spec: dict[str, Any] = {"containers": [container], **({"nodeName": node} if node else {})}
    return {"metadata": {"name": "dpdk-app", "namespace": "default"}, "spec": spec}
