"""Informer transforms keep what controllers read and drop the bulk of a kubelet's Node."""

from __future__ import annotations

import copy
import json
from typing import Any

from sriov_operator.runtime.transforms import slim_node, strip_managed_fields
from tests.support import FIXTURES


def kubelet_node() -> dict[str, Any]:
    node: dict[str, Any] = json.loads((FIXTURES / "kubelet-node.json").read_text())
    return node


def test_slim_node_keeps_what_the_operator_reads() -> None:
    """The engine reads name, labels and providerID; controllers also read taints, Ready and addresses."""
    node = kubelet_node()
    slim = slim_node(copy.deepcopy(node))
    assert slim["metadata"]["labels"] == node["metadata"]["labels"]
    assert slim["metadata"]["annotations"] == node["metadata"]["annotations"]
    assert slim["metadata"]["resourceVersion"] == "123456"
    assert slim["spec"] == {
        "providerID": "baremetal://worker-0",
        "taints": node["spec"]["taints"],
    }
    assert [c["type"] for c in slim["status"]["conditions"]] == ["Ready"]
    assert slim["status"]["addresses"] == node["status"]["addresses"]
    assert slim["status"]["allocatable"] == {
        "openshift.io/intel_sriov_netdevice": "16",
        "openshift.io/intel_sriov_dpdk": "8",
    }
    assert "managedFields" not in slim["metadata"]
    assert "images" not in slim["status"]
    assert len(json.dumps(slim)) * 4 < len(json.dumps(node))


def test_strip_managed_fields_drops_only_managed_fields() -> None:
    node = kubelet_node()
    stripped = strip_managed_fields(copy.deepcopy(node))
    del node["metadata"]["managedFields"]
    assert stripped == node
