"""Small builders of Kubernetes documents for engine tests."""

from __future__ import annotations

from typing import Any

from sriov_operator.api.documents import Document
from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import RenderResult, render_cluster

NS = "sriov-network-operator"
WORKER = {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"}


def policy(name: str, *, node_selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceName": spec.pop("resourceName", name),
        "nodeSelector": node_selector if node_selector is not None else {"sriov": "true"},
        "numVfs": spec.pop("numVfs", 8),
        "nicSelector": spec.pop("nicSelector", {"pfNames": ["ens1f0"]}),
    }
    body.update(spec)
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


def node(name: str, labels: dict[str, str] | None = None, provider_id: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {**WORKER, "sriov": "true", **(labels or {})}},
    }
    if provider_id:
        body["spec"] = {"providerID": provider_id}
    return body


def pf(
    name: str,
    pci: str,
    *,
    vendor: str = "8086",
    device: str = "158b",
    totalvfs: int = 64,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "pciAddress": pci,
        "vendor": vendor,
        "deviceID": device,
        "totalvfs": totalvfs,
        "numVfs": 0,
        "mtu": 1500,
        "linkType": "ETH",
        **extra,
    }


DEFAULT_PFS = [pf("ens1f0", "0000:3b:00.0"), pf("ens1f1", "0000:3b:00.1")]


def state(name: str, interfaces: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": NS},
        "status": {"interfaces": DEFAULT_PFS if interfaces is None else interfaces, **status},
    }


def worker(
    name: str = "w1", interfaces: list[dict[str, Any]] | None = None, **labels: str
) -> list[dict[str, Any]]:
    return [node(name, labels), state(name, interfaces)]


def supported_nic_ids(data: dict[str, str]) -> dict[str, Any]:
    """The ``supported-nic-ids`` ConfigMap: label → '<vendor> <PF id> <VF id>'."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "supported-nic-ids", "namespace": NS},
        "data": data,
    }


def documents(bodies: list[dict[str, Any]]) -> list[Document]:
    return [Document("test.yaml", index + 1, body) for index, body in enumerate(bodies)]


def render(
    bodies: list[dict[str, Any]], *, namespace: str | None = None, strict_nics: bool = False
) -> RenderResult:
    cluster, problems = read_documents(documents(bodies), namespace)
    result = render_cluster(cluster, resource_prefix="openshift.io", strict_nics=strict_nics)
    result.problems = problems + result.problems
    return result


def output(bodies: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return render(bodies, **kwargs).to_output()


def interfaces(result: RenderResult, node_name: str = "w1") -> dict[str, dict[str, Any]]:
    return {i["pciAddress"]: i for i in result.node_states[node_name].get("interfaces", [])}


def groups(result: RenderResult, pci: str, node_name: str = "w1") -> list[tuple[str, str]]:
    return [(g["policyName"], g["vfRange"]) for g in interfaces(result, node_name)[pci].get("vfGroups", [])]


def resources(result: RenderResult, node_name: str = "w1") -> dict[str, dict[str, Any]]:
    return {r["resourceName"]: r for r in result.device_plugin[node_name]["resourceList"]}


def messages(result: RenderResult, severity: str = "error") -> list[str]:
    return sorted(str(p) for p in result.problems if p.severity == severity)
