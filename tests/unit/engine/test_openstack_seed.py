"""The seed article's two policies, verbatim, on an OpenStack worker built from Nova metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.engine.inputs import read_documents
from sriov_operator.engine.render import RenderResult, render_cluster
from sriov_operator.manifests import load_paths
from tests.unit.engine.builders import documents, node

FIXTURES = Path(__file__).parents[2] / "fixtures"
SEED = FIXTURES / "seed"
OPERATOR_NS = "openshift-sriov-network-operator"
DPDK_NETWORK = "55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
VHOST_USER_PORT = "0000:00:04.0"


def openstack_status(network_data: dict[str, Any]) -> dict[str, Any]:
    """NodeState status as discovery reports a VM: one "PF" per port, numVfs 1, with its netFilter."""
    host = json.loads((FIXTURES / "engine" / "openstack-host.json").read_text())["devices"]
    link_by_mac = {link["ethernet_mac_address"]: link["id"] for link in network_data["links"]}
    network_by_link = {net["link"]: net["network_id"] for net in network_data["networks"]}
    interfaces = []
    for device in host:
        network = network_by_link[link_by_mac[device["mac"]]]
        interfaces.append(
            {
                **device,
                "netFilter": f"openstack/NetworkID:{network}",
                "numVfs": 1,
                "totalvfs": 1,
                "Vfs": [{"pciAddress": device["pciAddress"], "vfID": 0}],
            }
        )
    return {"interfaces": interfaces}


def render_seed(policy_files: list[str], network_data: dict[str, Any]) -> RenderResult:
    worker = node(
        "ocp-worker-0", {"feature.node.kubernetes.io/network-sriov.capable": "true"}, "openstack:///vm"
    )
    state = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": "ocp-worker-0", "namespace": OPERATOR_NS},
        "status": openstack_status(network_data),
    }
    loaded = load_paths([SEED / name for name in policy_files])
    cluster, problems = read_documents([*documents([worker, state]), *loaded.documents])
    result = render_cluster(cluster, resource_prefix="openshift.io")
    result.problems = problems + result.problems
    return result


def network_data(dpdk_network: str = DPDK_NETWORK) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "openstack" / "network_data.json").read_text())
    for net in data["networks"]:
        if net["network_id"] == DPDK_NETWORK:
            net["network_id"] = dpdk_network
    return data


@pytest.mark.parametrize(
    ("policy_file", "device_type", "is_rdma"),
    [("dpdk1-policy.yaml", "vfio-pci", False), ("hwoffload1-policy.yaml", "netdevice", True)],
)
def test_each_seed_policy_takes_the_vhost_user_port(
    policy_file: str, device_type: str, is_rdma: bool
) -> None:
    result = render_seed([policy_file], network_data())
    name = policy_file.removesuffix("-policy.yaml")
    assert not result.has_errors
    group = {"resourceName": name, "deviceType": device_type, "vfRange": "0-0", "policyName": name}
    if is_rdma:
        group["isRdma"] = True
    assert result.node_states["ocp-worker-0"] == {
        "interfaces": [{"pciAddress": VHOST_USER_PORT, "numVfs": 1, "name": "ens4", "vfGroups": [group]}]
    }
    [resource] = result.device_plugin["ocp-worker-0"]["resourceList"]
    assert resource["resourceName"] == name
    assert resource["selectors"]["pciAddresses"] == [
        VHOST_USER_PORT
    ]  # only that port, never the management NIC
    assert resource["selectors"]["isRdma"] is is_rdma


def test_both_seed_policies_on_one_network_warn_that_the_name_decides() -> None:
    result = render_seed(["dpdk1-policy.yaml", "hwoffload1-policy.yaml"], network_data())
    assert not result.has_errors
    assert [r["resourceName"] for r in result.device_plugin["ocp-worker-0"]["resourceList"]] == ["hwoffload1"]
    warnings = [str(p) for p in result.problems if p.severity == "warning"]
    assert any("dpdk1: spec.priority: equal to the priority of policy 'hwoffload1'" in w for w in warnings)


def test_seed_policies_on_a_node_without_their_network_expose_nothing() -> None:
    result = render_seed(
        ["dpdk1-policy.yaml", "hwoffload1-policy.yaml"], network_data("00000000-0000-0000-0000-000000000000")
    )
    assert not result.has_errors
    assert result.node_states["ocp-worker-0"] == {}
    assert result.device_plugin["ocp-worker-0"] == {"resourceList": []}
    warnings = [str(p) for p in result.problems if p.severity == "warning"]
    assert sum("matches no interface" in w for w in warnings) == 2
