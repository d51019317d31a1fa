"""The objects ``--apply-examples`` creates: the example policies, a network per resource, a pod (pure).

On OpenStack the policies are ``dpdk1`` (the DPDK scenario) and ``hwoffload1`` (the
OVS-offload scenario), the published example text, shipped verbatim (tabs and all). Both
name the same Neutron network in ``netFilter``, and their authors tell readers to set
each one to *their* network: the DPDK network for ``dpdk1`` (the sandbox's VMs
sit on exactly the example's ID) and the offloaded network for ``hwoffload1``.
:func:`configure_policies` does the second step, as a reader would.

On bare metal those select nothing (a server's NICs are on no Neutron network), so
``examples/baremetal-policies.yaml`` is applied instead: one resource served by the Intel
and the Mellanox workers' VFs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from importlib import resources

from sriov_operator.api.constants import API_VERSION, OPENSTACK_NETFILTER_PREFIX, POD_NETWORKS_ANNOTATION
from sriov_operator.api.documents import Document
from sriov_operator.kube.objects import Object
from sriov_operator.manifests import load_text
from sriov_operator.sandbox.hosts import DPDK_NETWORK_ID, OFFLOAD_NETWORK_ID, Platform

EXAMPLES_FILE = "examples/seed-policies.yaml"
BAREMETAL_FILE = "examples/baremetal-policies.yaml"
WORKLOAD_NAMESPACE = "default"  # the injector leaves the operator's namespace out
POD_NAME = "dpdk-app"
BAREMETAL_NOTE = (
    f"bare metal: the seed's policies select OpenStack networks (netFilter), which no server NIC is on; "
    f"applying {BAREMETAL_FILE} instead"
)
NETWORK_OF_POLICY = {"dpdk1": DPDK_NETWORK_ID, "hwoffload1": OFFLOAD_NETWORK_ID}


@dataclass(frozen=True)
class Examples:
    policies: list[Object]
    networks: list[Object]
    pod: Object
    notes: list[str]  # what the sandbox changed or read, for its output (the tab warning, netFilters)


def policy_documents(name: str = EXAMPLES_FILE) -> tuple[list[Document], list[str]]:
    """The example policies of a shipped file (default: ``dpdk1`` and ``hwoffload1``), and the loader's
    warnings (the seed's tabs)."""
    text = resources.files("sriov_operator.sandbox").joinpath(name).read_text()
    loaded = load_text(text, name)
    return loaded.documents, loaded.warnings


def configure_policies(
    documents: list[Document], namespace: str, platform: Platform
) -> tuple[list[Object], list[str]]:
    """The policies in the operator's ``namespace``; on OpenStack each seed netFilter names its network."""
    policies, notes = [], []
    for document in documents:
        policy = copy.deepcopy(document.body)
        policy["metadata"]["namespace"] = namespace
        name = policy["metadata"]["name"]
        selector = policy["spec"]["nicSelector"]
        network = NETWORK_OF_POLICY.get(name)
        wanted = f"{OPENSTACK_NETFILTER_PREFIX}{network}"
        if platform == "openstack" and network is not None and selector.get("netFilter") != wanted:
            notes.append(
                f"{name}: netFilter set to {wanted} (the VMs' offloaded network), as the article tells "
                "readers to do"
            )
            selector["netFilter"] = wanted
        policies.append(policy)
    return policies, notes


def sriov_network(resource_name: str, namespace: str) -> Object:
    """A network per resource, its NAD in the workload namespace (static IPAM: nothing to run)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovNetwork",
        "metadata": {"name": f"{resource_name}-net", "namespace": namespace},
        "spec": {
            "resourceName": resource_name,
            "networkNamespace": WORKLOAD_NAMESPACE,
            "ipam": '{"type": "static"}',
        },
    }


def example_pod(networks: list[Object]) -> Object:
    """A pod naming every network in its annotation and asking for no devices (the webhook adds them)."""
    names = ",".join(n["metadata"]["name"] for n in networks)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD_NAME,
            "namespace": WORKLOAD_NAMESPACE,
            "annotations": {POD_NETWORKS_ANNOTATION: names},
        },
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.example/dpdk-app:1", "command": ["sleep", "infinity"]}
            ]
        },
    }


def examples(namespace: str, platform: Platform) -> Examples:
    """The seed's policies on OpenStack, the bare-metal ones on bare metal; a network per resource."""
    if platform == "baremetal":
        documents, warnings = policy_documents(BAREMETAL_FILE)
        warnings = [BAREMETAL_NOTE, *warnings]
    else:
        documents, warnings = policy_documents()
    policies, notes = configure_policies(documents, namespace, platform)
    resource_names = dict.fromkeys(p["spec"]["resourceName"] for p in policies)
    networks = [sriov_network(name, namespace) for name in resource_names]
    return Examples(policies, networks, example_pod(networks), [*warnings, *notes])
