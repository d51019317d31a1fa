"""The partial decoders give the caches what a full decode and the slim transforms give."""

from __future__ import annotations

import copy
import json
from typing import Any

from sriov_operator.runtime.decoding import NODE_DECODER, NODE_STATE_DECODER
from sriov_operator.runtime.transforms import slim_node, slim_node_state
from tests.support import FIXTURES


def vf(pf: int, index: int) -> dict[str, Any]:
    return {
        "pciAddress": f"0000:3b:{pf + 2:02x}.{index}",
        "vfID": index,
        "name": f"ens1f{pf}v{index}",
        "mac": "02:00:00:00:00:01",
        "driver": "iavf",
        "deviceID": "154c",
        "vendor": "8086",
        "mtu": 1500,
    }


def node_state() -> dict[str, Any]:
    """A NodeState as the API server sends it: managedFields, a discovered status with VFs, a spec."""
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeState",
        "metadata": {
            "name": "worker-0",
            "namespace": "sriov-network-operator",
            "uid": "1c1f5d4e",
            "resourceVersion": "4711",
            "generation": 3,
            "creationTimestamp": "2026-11-26T10:00:00Z",
            "labels": {"team": "net"},
            "annotations": {"sriovnetwork.openshift.io/current-state": "Idle"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "worker-0", "uid": "9"}],
            "managedFields": [{"manager": "sriov-fdp-operator", "operation": "Apply", "fieldsV1": {}}],
        },
        "spec": {"interfaces": [{"pciAddress": "0000:3b:00.0", "numVfs": 4, "name": "ens1f0"}]},
        "status": {
            "interfaces": [
                {
                    "name": f"ens1f{pf}",
                    "pciAddress": f"0000:3b:00.{pf}",
                    "vendor": "8086",
                    "deviceID": "158b",
                    "driver": "i40e",
                    "mtu": 9000,
                    "numVfs": 4,
                    "totalvfs": 64,
                    "linkType": "ETH",
                    "linkAdminState": "up",
                    "eSwitchMode": "legacy",
                    "externallyManaged": pf == 1,
                    "altNames": [f"enp59s0f{pf}"],
                    "Vfs": [vf(pf, index) for index in range(4)],
                }
                for pf in range(2)
            ],
            "bridges": {"ovs": [{"name": "br-0"}]},
            "system": {"rdmaMode": "shared"},
            "syncStatus": "Succeeded",
            "lastSyncError": "",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Configured"}],
        },
    }


def test_a_list_page_holds_what_slim_node_state_keeps_and_its_paging() -> None:
    """The operator's cache is the same, PF fields and all, without decoding a VF or managedFields."""
    items = [node_state(), {**node_state(), "metadata": {"name": "worker-1"}}]
    page = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodeStateList",
        "metadata": {"resourceVersion": "4712", "continue": "token"},
        "items": items,
    }
    decoded = NODE_STATE_DECODER.page(json.dumps(page).encode())
    assert decoded["metadata"] == {"resourceVersion": "4712", "continue": "token"}
    assert decoded["items"] == [slim_node_state(copy.deepcopy(item)) for item in items]
    assert decoded["items"][0]["status"]["interfaces"][1]["totalvfs"] == 64
    assert all("Vfs" not in pf for pf in decoded["items"][0]["status"]["interfaces"])
    assert "managedFields" not in decoded["items"][0]["metadata"]


def test_a_watch_event_holds_what_slim_node_state_keeps() -> None:
    event = {"type": "MODIFIED", "object": node_state()}
    decoded = NODE_STATE_DECODER.event(json.dumps(event).encode())
    assert decoded == {"type": "MODIFIED", "object": slim_node_state(node_state())}


def test_absent_fields_stay_absent_and_null_stays_null() -> None:
    """An undiscovered NodeState has no status: it must not gain one (nor PF fields it lacks)."""
    bare = {"metadata": {"name": "worker-2"}, "spec": None}
    assert NODE_STATE_DECODER.event(json.dumps({"type": "ADDED", "object": bare}).encode()) == {
        "type": "ADDED",
        "object": bare,
    }
    nulls = {"metadata": {"name": "worker-3"}, "status": {"interfaces": None, "syncStatus": None}}
    assert NODE_STATE_DECODER.page(json.dumps({"items": [nulls]}).encode())["items"] == [nulls]


def test_an_error_event_keeps_its_status_whole() -> None:
    """The watch raises from the Status' code (410: list again), so none of it may be dropped."""
    status = {"kind": "Status", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old"}
    decoded = NODE_STATE_DECODER.event(json.dumps({"type": "ERROR", "object": status}).encode())
    assert decoded == {"type": "ERROR", "object": status}


def test_a_kubelet_node_decoded_partially_is_the_same_slim_node() -> None:
    """Images, node info, capacity and managedFields are skipped; what slim_node keeps is all there."""
    node = json.loads((FIXTURES / "kubelet-node.json").read_text())
    raw = json.dumps({"items": [node]}).encode()
    [decoded] = NODE_DECODER.page(raw)["items"]
    assert "images" not in decoded["status"] and "nodeInfo" not in decoded["status"]
    assert slim_node(decoded) == slim_node(copy.deepcopy(node))
    assert slim_node(decoded)["spec"]["providerID"] == "baremetal://worker-0"
